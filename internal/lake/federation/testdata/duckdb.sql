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
  "eventversion",
  "useridentity",
  "eventtime",
  "eventsource",
  "eventname",
  "awsregion",
  "sourceipaddress",
  "useragent",
  "errorcode",
  "errormessage",
  "requestparameters",
  "responseelements",
  "additionaleventdata",
  "requestid",
  "eventid",
  "readonly",
  "resources",
  "eventtype",
  "apiversion",
  "managementevent",
  "recipientaccountid",
  "sharedeventid",
  "annotation",
  "vpcendpointid",
  "vpcendpointaccountid",
  "serviceeventdetails",
  "addendum",
  "edgedevicedetails",
  "insightdetails",
  "eventcategory",
  "tlsdetails",
  "sessioncredentialfromconsole",
  "eventjson",
  "eventjsonchecksum",
  day
FROM read_parquet([
    's3://opentrail-federation/cloudtrail-lake/123456789012/0b3f0c2e-8d7e-4c1a-9a55-3f4f2b1c9e10/data/day=2026-12-05/c-1-20-3.parquet',
    's3://opentrail-federation/cloudtrail-lake/123456789012/0b3f0c2e-8d7e-4c1a-9a55-3f4f2b1c9e10/data/day=2026-12-06/b-21-30.parquet'
  ], hive_partitioning = true, hive_types = {'day': VARCHAR}, union_by_name = true);
