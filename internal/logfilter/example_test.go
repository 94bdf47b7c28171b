package logfilter_test

import (
	"fmt"

	"github.com/opentrail/opentrail/internal/logfilter"
)

func Example() {
	f, err := logfilter.Parse(`{ ($.eventName = ConsoleLogin) && ($.errorMessage = "Failed authentication") }`)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(f.Match([]byte(`{"eventName":"ConsoleLogin","errorMessage":"Failed authentication"}`)))
	fmt.Println(f.Match([]byte(`{"eventName":"ConsoleLogin","responseElements":{"ConsoleLogin":"Success"}}`)))
	fmt.Println(f.Match([]byte(`ConsoleLogin Failed authentication`)))
	// Output:
	// true
	// false
	// false
}

func ExampleParse_error() {
	_, err := logfilter.Parse(`{ $.latency > fast }`)
	fmt.Println(err)
	// Output:
	// Invalid filterPattern at character 13: the > operator needs a number, found "fast"
}

func ExampleFilter_Extract() {
	f := logfilter.MustParse(`[ip, user, username, timestamp, request, status_code = 4*, bytes]`)
	values, ok := f.Extract([]byte(`127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534`))
	fmt.Println(ok, values["$status_code"], values["$request"], values["$bytes"])
	// Output:
	// true 404 GET /index.html HTTP/1.0 1534
}

func ExampleNewTransformation() {
	f := logfilter.MustParse(`{ $.latency = * }`)
	t, err := logfilter.NewTransformation(f, logfilter.TransformationSpec{
		MetricValue: "$.latency",
		Dimensions:  map[string]string{"Path": "$.path"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	e, ok := t.Apply(logfilter.NewEvent([]byte(`{"latency": 212, "path": "/login"}`)))
	fmt.Println(ok, e.Value, e.Dimensions["Path"])
	// Output:
	// true 212 /login
}
