-- Spark SQL table definition of OpenTrail event data store arn:aws:cloudtrail:us-east-1:123456789012:eventdatastore/0b3f0c2e-8d7e-4c1a-9a55-3f4f2b1c9e10,
-- published at s3://opentrail-federation/cloudtrail-lake/123456789012/0b3f0c2e-8d7e-4c1a-9a55-3f4f2b1c9e10/data/ (docs/format/federation.md).
-- The bucket is served by the S3-compatible endpoint http://127.0.0.1:7000 (path-style URLs).
-- The table reads every file under its location: see docs/format/federation.md
-- for what a reader that lists the prefix sees while a compaction is published.
-- Run MSCK REPAIR TABLE again when new days appear.
CREATE DATABASE IF NOT EXISTS cloudtrail;
CREATE TABLE IF NOT EXISTS cloudtrail.eds_0b3f0c2e_8d7e_4c1a_9a55_3f4f2b1c9e10 (
  `eventversion` STRING,
  `useridentity` STRUCT<`type`: STRING, `principalid`: STRING, `arn`: STRING, `accountid`: STRING, `accesskeyid`: STRING, `username`: STRING, `sessioncontext`: STRUCT<`attributes`: STRUCT<`creationdate`: TIMESTAMP, `mfaauthenticated`: STRING>, `sessionissuer`: STRUCT<`type`: STRING, `principalid`: STRING, `arn`: STRING, `accountid`: STRING, `username`: STRING>, `webidfederationdata`: STRUCT<`federatedprovider`: STRING, `attributes`: MAP<STRING, STRING>>, `sourceidentity`: STRING, `ec2roledelivery`: STRING, `ec2issuedinvpc`: STRING>, `onbehalfof`: STRUCT<`userid`: STRING, `identitystorearn`: STRING>, `inscopeof`: STRUCT<`sourcearn`: STRING, `sourceaccount`: STRING, `issuertype`: STRING, `credentialsissuedto`: STRING>, `invokedby`: STRING, `identityprovider`: STRING>,
  `eventtime` TIMESTAMP,
  `eventsource` STRING,
  `eventname` STRING,
  `awsregion` STRING,
  `sourceipaddress` STRING,
  `useragent` STRING,
  `errorcode` STRING,
  `errormessage` STRING,
  `requestparameters` MAP<STRING, STRING>,
  `responseelements` MAP<STRING, STRING>,
  `additionaleventdata` MAP<STRING, STRING>,
  `requestid` STRING,
  `eventid` STRING,
  `readonly` BOOLEAN,
  `resources` ARRAY<STRUCT<`accountid`: STRING, `type`: STRING, `arn`: STRING, `arnprefix`: STRING>>,
  `eventtype` STRING,
  `apiversion` STRING,
  `managementevent` BOOLEAN,
  `recipientaccountid` STRING,
  `sharedeventid` STRING,
  `annotation` STRING,
  `vpcendpointid` STRING,
  `vpcendpointaccountid` STRING,
  `serviceeventdetails` MAP<STRING, STRING>,
  `addendum` MAP<STRING, STRING>,
  `edgedevicedetails` MAP<STRING, STRING>,
  `insightdetails` MAP<STRING, STRING>,
  `eventcategory` STRING,
  `tlsdetails` STRUCT<`tlsversion`: STRING, `ciphersuite`: STRING, `clientprovidedhostheader`: STRING>,
  `sessioncredentialfromconsole` STRING,
  `eventjson` STRING,
  `eventjsonchecksum` STRING,
  `day` STRING
)
USING parquet
PARTITIONED BY (`day`)
LOCATION 's3a://opentrail-federation/cloudtrail-lake/123456789012/0b3f0c2e-8d7e-4c1a-9a55-3f4f2b1c9e10/data/';
MSCK REPAIR TABLE cloudtrail.eds_0b3f0c2e_8d7e_4c1a_9a55_3f4f2b1c9e10;
