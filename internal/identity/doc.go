// Package identity owns OpenTrail's accounts and access keys: the accounts
// file in the data directory, the AWS shared-credentials file it writes for
// users, and the mapping from a SigV4-verified access key to a [Principal].
package identity
