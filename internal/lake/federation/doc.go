// Package federation publishes federated event data stores the open way
// (docs/format/federation.md): where AWS registers a Glue table,
// OpenTrail copies the store's Parquet files to a bucket prefix, Hive
// style, with a manifest of the published snapshot and table definitions
// for DuckDB, Trino and Spark, so engines that know nothing of OpenTrail
// read the store in place.
//
// The [Publisher] follows each federated store's MANIFEST generation
// through the [Source] it is given (the Lake engine), keeps a durable
// checkpoint of what it has published, and moves a store's
// FederationStatus through the [Catalog] it is given: ENABLING to ENABLED
// once the first snapshot is published, DISABLING to DISABLED once the
// published copy is gone. It holds a store's files (as a query does)
// while it copies them, never the Lake's locks.
//
// The table definitions are generated from the Lake schema of the
// store's kind in package lake/duck ([duck.Schema.Columns]), the one
// definition the files are written with.
package federation
