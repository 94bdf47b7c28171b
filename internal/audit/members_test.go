package audit

import "testing"

func TestLowerCamel(t *testing.T) {
	for in, want := range map[string]string{
		"Name": "name", "S3BucketName": "s3BucketName", "KMSKeyId": "kmsKeyId", "KmsKeyId": "kmsKeyId",
		"ARN": "arn", "TrailARN": "trailARN", "trailNameList": "trailNameList", "IsLogging": "isLogging", "": "",
		"ID": "id", "EventDataStore": "eventDataStore",
	} {
		if got := LowerCamel(in); got != want {
			t.Errorf("LowerCamel(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLowerCamelMembers(t *testing.T) {
	tests := []struct{ in, want string }{
		{``, `null`},
		{`{}`, `null`},
		{` { } `, `null`},
		{`{"A":null}`, `null`},
		{`null`, `null`},
		{`[1]`, `null`},
		{`{"A":1`, `null`},
		{`{"A":1} x`, `null`},
		{`{"Name": "t", "S3BucketName" : "b", "Tags": [ {"Key": "k"} ]}`, `{"name":"t","s3BucketName":"b","tags":[{"Key":"k"}]}`},
		{`{"Name":"a","name":"b"}`, `{"name":"a"}`},
		{`{"N":1.50}`, `{"n":1.50}`},
	}
	for _, tt := range tests {
		if got := string(LowerCamelMembers([]byte(tt.in))); got != tt.want {
			t.Errorf("LowerCamelMembers(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
