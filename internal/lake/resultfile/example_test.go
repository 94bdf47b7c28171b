package resultfile_test

import (
	"fmt"
	"time"

	"github.com/opentrail/opentrail/internal/lake/resultfile"
)

func ExampleAppendRecord() {
	name, empty, note := "CreateBucket", "", `say "hi", twice`
	fmt.Printf("%q\n", resultfile.AppendRecord(nil, []*string{&name, nil, &empty, &note}))
	// Output:
	// "CreateBucket,,\"\",\"say \"\"hi\"\", twice\"\r\n"
}

func ExampleDir() {
	done := time.Date(2022, 5, 10, 22, 6, 30, 0, time.UTC)
	fmt.Println(resultfile.Dir("lake", "111122223333", "0f8b3c1e-5d2a-4c7b-9e61-2a4d6f8b0c13", done) + "/" + resultfile.FileName(1))
	// Output:
	// lake/AWSLogs/111122223333/CloudTrail-Lake/Query/2022/05/10/0f8b3c1e-5d2a-4c7b-9e61-2a4d6f8b0c13/result_1.csv.gz
}

func ExampleSignFile_StringToSign() {
	sf := resultfile.NewSignFile("us-east-1", time.Date(2022, 5, 10, 22, 6, 30, 0, time.UTC), []resultfile.File{
		{Name: "result_1.csv.gz", Hash: "de85a48b8a363033c891abd723181243620a3af3b6505f0a44db77e147e9c188"},
		{Name: "result_2.csv.gz", Hash: "9bb6196fc6b84d6f075a56548feca262bd99ba3c2de41b618e5b6e22c1fc71f6"},
	})
	fmt.Println(sf.StringToSign())
	fmt.Println(sf.QueryCompleteTime)
	// Output:
	// de85a48b8a363033c891abd723181243620a3af3b6505f0a44db77e147e9c188 9bb6196fc6b84d6f075a56548feca262bd99ba3c2de41b618e5b6e22c1fc71f6
	// 2022-05-10T22:06:30Z
}
