-- Trino (Hive connector, catalog hive) table definition of OpenTrail event data store arn:aws:cloudtrail:us-east-1:123456789012:eventdatastore/0b3f0c2e-8d7e-4c1a-9a55-3f4f2b1c9e10,
-- published at s3://opentrail-federation/cloudtrail-lake/123456789012/0b3f0c2e-8d7e-4c1a-9a55-3f4f2b1c9e10/data/ (docs/format/federation.md).
-- The bucket is served by the S3-compatible endpoint http://127.0.0.1:7000 (path-style URLs).
-- The table reads every file under its location: see docs/format/federation.md
-- for what a reader that lists the prefix sees while a compaction is published.
-- Run the CALL again when new days appear.
CREATE SCHEMA IF NOT EXISTS hive.cloudtrail;
CREATE TABLE IF NOT EXISTS hive.cloudtrail.eds_0b3f0c2e_8d7e_4c1a_9a55_3f4f2b1c9e10 (
  "eventversion" varchar,
  "useridentity" row("type" varchar, "principalid" varchar, "arn" varchar, "accountid" varchar, "accesskeyid" varchar, "username" varchar, "sessioncontext" row("attributes" row("creationdate" timestamp(3), "mfaauthenticated" varchar), "sessionissuer" row("type" varchar, "principalid" varchar, "arn" varchar, "accountid" varchar, "username" varchar), "webidfederationdata" row("federatedprovider" varchar, "attributes" map(varchar, varchar)), "sourceidentity" varchar, "ec2roledelivery" varchar, "ec2issuedinvpc" varchar), "onbehalfof" row("userid" varchar, "identitystorearn" varchar), "inscopeof" row("sourcearn" varchar, "sourceaccount" varchar, "issuertype" varchar, "credentialsissuedto" varchar), "invokedby" varchar, "identityprovider" varchar),
  "eventtime" timestamp(3),
  "eventsource" varchar,
  "eventname" varchar,
  "awsregion" varchar,
  "sourceipaddress" varchar,
  "useragent" varchar,
  "errorcode" varchar,
  "errormessage" varchar,
  "requestparameters" map(varchar, varchar),
  "responseelements" map(varchar, varchar),
  "additionaleventdata" map(varchar, varchar),
  "requestid" varchar,
  "eventid" varchar,
  "readonly" boolean,
  "resources" array(row("accountid" varchar, "type" varchar, "arn" varchar, "arnprefix" varchar)),
  "eventtype" varchar,
  "apiversion" varchar,
  "managementevent" boolean,
  "recipientaccountid" varchar,
  "sharedeventid" varchar,
  "annotation" varchar,
  "vpcendpointid" varchar,
  "vpcendpointaccountid" varchar,
  "serviceeventdetails" map(varchar, varchar),
  "addendum" map(varchar, varchar),
  "edgedevicedetails" map(varchar, varchar),
  "insightdetails" map(varchar, varchar),
  "eventcategory" varchar,
  "tlsdetails" row("tlsversion" varchar, "ciphersuite" varchar, "clientprovidedhostheader" varchar),
  "sessioncredentialfromconsole" varchar,
  "eventjson" varchar,
  "eventjsonchecksum" varchar,
  "day" varchar
)
WITH (
  external_location = 's3://opentrail-federation/cloudtrail-lake/123456789012/0b3f0c2e-8d7e-4c1a-9a55-3f4f2b1c9e10/data/',
  format = 'PARQUET',
  partitioned_by = ARRAY['day']
);
CALL hive.system.sync_partition_metadata('cloudtrail', 'eds_0b3f0c2e_8d7e_4c1a_9a55_3f4f2b1c9e10', 'FULL');
