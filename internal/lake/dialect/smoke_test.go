package dialect_test

import "testing"

func TestSmoke(t *testing.T) {
	e := newEngine(t, map[string][]string{"eds_a": records(t, "testdata/store-a.json"), "eds_one": records(t, "testdata/one.json")})
	for _, q := range []string{
		"SELECT eventName, userIdentity.principalid, count(*) AS n FROM " + storeA + " WHERE eventTime > '2023-07-01 00:00:00' GROUP BY 1, 2 ORDER BY n DESC, 1",
		"SELECT element_at(requestparameters, 'bucketName'), requestParameters['key'], cardinality(resources), element_at(resources, 1).arn FROM " + storeA + " WHERE eventsource = 's3.amazonaws.com'",
		"SELECT json_extract_scalar(element_at(requestParameters, 'ipPermissions'), '$.items[0].fromPort') FROM " + storeA + " WHERE eventname = 'AuthorizeSecurityGroupIngress'",
		"SELECT * FROM " + one,
	} {
		tr, cols, rows, err := e.run(t.Context(), q)
		if err != nil {
			t.Errorf("%s: %v", q, err)
			continue
		}
		t.Logf("%s\n  -> %s\n  %v %v %v", q, tr.SQL, cols, rows, tr.Bounds)
	}
}
