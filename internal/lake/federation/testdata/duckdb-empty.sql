-- DuckDB table definition of OpenTrail event data store arn:aws:cloudtrail:us-east-1:123456789012:eventdatastore/0b3f0c2e-8d7e-4c1a-9a55-3f4f2b1c9e10,
-- published at s3://opentrail-federation/cloudtrail-lake/123456789012/0b3f0c2e-8d7e-4c1a-9a55-3f4f2b1c9e10/data/ (docs/format/federation.md).
-- The bucket is served by the S3-compatible endpoint http://127.0.0.1:7000 (path-style URLs).
-- Needs DuckDB's httpfs extension and an S3 secret for the endpoint, e.g.
--   INSTALL httpfs; LOAD httpfs;
--   CREATE SECRET (TYPE s3, KEY_ID '...', SECRET '...', REGION 'us-east-1', ENDPOINT 'HOST:PORT', URL_STYLE 'path', USE_SSL false);
-- It names the files of one published snapshot, so it never reads half of one.
CREATE SCHEMA IF NOT EXISTS cloudtrail;
CREATE OR REPLACE VIEW cloudtrail.eds_0b3f0c2e_8d7e_4c1a_9a55_3f4f2b1c9e10 AS
SELECT
  CAST(NULL AS VARCHAR) AS "eventversion",
  CAST(NULL AS STRUCT("type" VARCHAR, "principalid" VARCHAR, "arn" VARCHAR, "accountid" VARCHAR, "accesskeyid" VARCHAR, "username" VARCHAR, "sessioncontext" STRUCT("attributes" STRUCT("creationdate" TIMESTAMP, "mfaauthenticated" VARCHAR), "sessionissuer" STRUCT("type" VARCHAR, "principalid" VARCHAR, "arn" VARCHAR, "accountid" VARCHAR, "username" VARCHAR), "webidfederationdata" STRUCT("federatedprovider" VARCHAR, "attributes" MAP(VARCHAR, VARCHAR)), "sourceidentity" VARCHAR, "ec2roledelivery" VARCHAR, "ec2issuedinvpc" VARCHAR), "onbehalfof" STRUCT("userid" VARCHAR, "identitystorearn" VARCHAR), "inscopeof" STRUCT("sourcearn" VARCHAR, "sourceaccount" VARCHAR, "issuertype" VARCHAR, "credentialsissuedto" VARCHAR), "invokedby" VARCHAR, "identityprovider" VARCHAR)) AS "useridentity",
  CAST(NULL AS TIMESTAMP) AS "eventtime",
  CAST(NULL AS VARCHAR) AS "eventsource",
  CAST(NULL AS VARCHAR) AS "eventname",
  CAST(NULL AS VARCHAR) AS "awsregion",
  CAST(NULL AS VARCHAR) AS "sourceipaddress",
  CAST(NULL AS VARCHAR) AS "useragent",
  CAST(NULL AS VARCHAR) AS "errorcode",
  CAST(NULL AS VARCHAR) AS "errormessage",
  CAST(NULL AS MAP(VARCHAR, VARCHAR)) AS "requestparameters",
  CAST(NULL AS MAP(VARCHAR, VARCHAR)) AS "responseelements",
  CAST(NULL AS MAP(VARCHAR, VARCHAR)) AS "additionaleventdata",
  CAST(NULL AS VARCHAR) AS "requestid",
  CAST(NULL AS VARCHAR) AS "eventid",
  CAST(NULL AS BOOLEAN) AS "readonly",
  CAST(NULL AS STRUCT("accountid" VARCHAR, "type" VARCHAR, "arn" VARCHAR, "arnprefix" VARCHAR)[]) AS "resources",
  CAST(NULL AS VARCHAR) AS "eventtype",
  CAST(NULL AS VARCHAR) AS "apiversion",
  CAST(NULL AS BOOLEAN) AS "managementevent",
  CAST(NULL AS VARCHAR) AS "recipientaccountid",
  CAST(NULL AS VARCHAR) AS "sharedeventid",
  CAST(NULL AS VARCHAR) AS "annotation",
  CAST(NULL AS VARCHAR) AS "vpcendpointid",
  CAST(NULL AS VARCHAR) AS "vpcendpointaccountid",
  CAST(NULL AS MAP(VARCHAR, VARCHAR)) AS "serviceeventdetails",
  CAST(NULL AS MAP(VARCHAR, VARCHAR)) AS "addendum",
  CAST(NULL AS MAP(VARCHAR, VARCHAR)) AS "edgedevicedetails",
  CAST(NULL AS MAP(VARCHAR, VARCHAR)) AS "insightdetails",
  CAST(NULL AS VARCHAR) AS "eventcategory",
  CAST(NULL AS STRUCT("tlsversion" VARCHAR, "ciphersuite" VARCHAR, "clientprovidedhostheader" VARCHAR)) AS "tlsdetails",
  CAST(NULL AS VARCHAR) AS "sessioncredentialfromconsole",
  CAST(NULL AS VARCHAR) AS "eventjson",
  CAST(NULL AS VARCHAR) AS "eventjsonchecksum",
  CAST(NULL AS VARCHAR) AS day
WHERE false;
