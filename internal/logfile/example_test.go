package logfile_test

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/opentrail/opentrail/internal/logfile"
)

func ExampleDecoder() {
	file := `{"Records":[
  {"eventVersion":"1.08","eventName":"ListBuckets"},
  {"eventVersion":"1.08","eventName":"GetObject"}
]}`
	d, err := logfile.NewDecoder(strings.NewReader(file))
	if err != nil {
		fmt.Println(err) // errors.Is(err, logfile.ErrNotCloudTrail) for README.md and the like
		return
	}
	fmt.Println("format:", d.Format())
	for {
		rec, err := d.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if se, ok := errors.AsType[*logfile.SyntaxError](err); ok {
			fmt.Println("bad record:", se)
			continue
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("record %d, line %d: %s\n", rec.Index, rec.Line, rec.Raw)
	}
	// Output:
	// format: records
	// record 0, line 2: {"eventVersion":"1.08","eventName":"ListBuckets"}
	// record 1, line 3: {"eventVersion":"1.08","eventName":"GetObject"}
}

func ExampleDecoder_lines() {
	file := "{\"eventName\":\"A\"}\n{\"eventName\":\n{\"eventName\":\"C\"}\n"
	d, _ := logfile.NewDecoder(strings.NewReader(file))
	fmt.Println("format:", d.Format())
	for {
		rec, err := d.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("line %d: %s\n", rec.Line, rec.Raw)
	}
	// Output:
	// format: lines
	// line 1: {"eventName":"A"}
	// malformed JSON in record 1 at line 2: unexpected end of input (byte 50)
	// line 3: {"eventName":"C"}
}
