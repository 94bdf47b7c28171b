package eventpattern

import (
	"testing"
)

// Pages of the EventBridge user guide and of event-ruler the cases come from.
const (
	docOperators = "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html"
	docPatterns  = "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html"
	docArrays    = "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-arrays.html"
	docNull      = "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-null-values.html"
	docRuler     = "https://github.com/aws/event-ruler/blob/main/README.md"
)

// ec2Event is the sample event of eb-event-patterns.
const ec2Event = `{
  "version": "0",
  "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
  "detail-type": "EC2 Instance State-change Notification",
  "source": "aws.ec2",
  "account": "111122223333",
  "time": "2017-12-22T18:43:48Z",
  "region": "us-west-1",
  "resources": [
    "arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"
  ],
  "detail": {
    "instance-id": "i-1234567890abcdef0",
    "state": "terminated"
  }
}`

// rulerEvent is the sample event of event-ruler's README, which the
// operator page's examples also use.
const rulerEvent = `{
  "version": "0",
  "id": "ddddd4-aaaa-7777-4444-345dd43cc333",
  "detail-type": "EC2 Instance State-change Notification",
  "source": "aws.ec2",
  "account": "012345679012",
  "time": "2017-10-02T16:24:49Z",
  "region": "us-east-1",
  "resources": [
    "arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"
  ],
  "detail": {
    "c-count": 5,
    "d-count": 3,
    "x-limit": 301.8,
    "source-ip": "10.0.0.33",
    "instance-id": "i-000000aaaaaa00000",
    "state": "running"
  }
}`

const employeesEvent = `{
  "employees":[
    { "firstName":"John", "lastName":"Doe" },
    { "firstName":"Anna", "lastName":"Smith" },
    { "firstName":"Peter", "lastName":"Jones" }
  ]
}`

type matchCase struct {
	name    string
	doc     string // where the example comes from; empty for our own cases
	pattern string
	event   string
	want    bool
}

var docCases = []matchCase{
	// eb-event-patterns: the EC2 termination example.
	{"ec2 termination", docPatterns,
		`{"source":["aws.ec2"],"detail-type":["EC2 Instance State-change Notification"],"detail":{"state":["terminated"]}}`,
		ec2Event, true},
	{"ec2 other state", docPatterns,
		`{"source":["aws.ec2"],"detail-type":["EC2 Instance State-change Notification"],"detail":{"state":["running"]}}`,
		ec2Event, false},
	{"field absent from event", docPatterns, `{"detail":{"missing":["x"]}}`, ec2Event, false},

	// eb-create-pattern-operators: one row per operator.
	{"and", docOperators, `{"Location":["New York"],"Day":["Monday"]}`, `{"Location":"New York","Day":"Monday"}`, true},
	{"and one side fails", docOperators, `{"Location":["New York"],"Day":["Monday"]}`, `{"Location":"New York","Day":"Tuesday"}`, false},
	{"anything-but", docOperators, `{"state":[{"anything-but":"initializing"}]}`, `{"state":"running"}`, true},
	{"anything-but excluded", docOperators, `{"state":[{"anything-but":"initializing"}]}`, `{"state":"initializing"}`, false},
	{"anything-but missing field", docOperators, `{"state":[{"anything-but":"initializing"}]}`, `{"other":"x"}`, false},
	{"anything-but begins with", docOperators, `{"Region":[{"anything-but":{"prefix":"us-"}}]}`, `{"Region":"eu-west-1"}`, true},
	{"anything-but begins with excluded", docOperators, `{"Region":[{"anything-but":{"prefix":"us-"}}]}`, `{"Region":"us-east-1"}`, false},
	{"anything-but ends with", docOperators, `{"FileName":[{"anything-but":{"suffix":".png"}}]}`, `{"FileName":"a.jpg"}`, true},
	{"anything-but ends with excluded", docOperators, `{"FileName":[{"anything-but":{"suffix":".png"}}]}`, `{"FileName":"a.png"}`, false},
	{"anything-but ignore case", docOperators, `{"state":[{"anything-but":{"equals-ignore-case":"initializing"}}]}`, `{"state":"INITIALIZING"}`, false},
	{"anything-but ignore case other", docOperators, `{"state":[{"anything-but":{"equals-ignore-case":"initializing"}}]}`, `{"state":"running"}`, true},
	{"anything-but ignore case list", docOperators, `{"state":[{"anything-but":{"equals-ignore-case":["Stopped","OverLoaded"]}}]}`, `{"state":"overloaded"}`, false},
	{"anything-but wildcard", docOperators, `{"FilePath":[{"anything-but":{"wildcard":"*/lib/*"}}]}`, `{"FilePath":"/usr/bin/ls"}`, true},
	{"anything-but wildcard excluded", docOperators, `{"FilePath":[{"anything-but":{"wildcard":"*/lib/*"}}]}`, `{"FilePath":"/usr/lib/libc.so"}`, false},
	{"anything-but wildcard list", docOperators, `{"FilePath":[{"anything-but":{"wildcard":["*/lib/*","*/bin/*"]}}]}`, `{"FilePath":"/usr/bin/ls"}`, false},
	{"begins with", docOperators, `{"Region":[{"prefix":"us-"}]}`, `{"Region":"us-east-1"}`, true},
	{"begins with other", docOperators, `{"Region":[{"prefix":"us-"}]}`, `{"Region":"eu-west-1"}`, false},
	{"begins with ignore case", docOperators, `{"service":[{"prefix":{"equals-ignore-case":"eventb"}}]}`, `{"service":"EventBridge"}`, true},
	{"begins with ignore case upper", docOperators, `{"service":[{"prefix":{"equals-ignore-case":"eventb"}}]}`, `{"service":"EVENTBRIDGE"}`, true},
	{"empty", docOperators, `{"LastName":[""]}`, `{"LastName":""}`, true},
	{"empty not missing", docOperators, `{"LastName":[""]}`, `{"FirstName":"Alice"}`, false},
	{"equals", docOperators, `{"Name":["Alice"]}`, `{"Name":"Alice"}`, true},
	{"equals is case sensitive", docOperators, `{"Name":["Alice"]}`, `{"Name":"alice"}`, false},
	{"equals ignore case", docOperators, `{"Name":[{"equals-ignore-case":"alice"}]}`, `{"Name":"ALICE"}`, true},
	{"ends with", docOperators, `{"FileName":[{"suffix":".png"}]}`, `{"FileName":"image.png"}`, true},
	{"ends with other", docOperators, `{"FileName":[{"suffix":".png"}]}`, `{"FileName":"image.PNG"}`, false},
	{"ends with ignore case", docOperators, `{"service":[{"suffix":{"equals-ignore-case":"tBridge"}}]}`, `{"service":"EVENTBRIDGE"}`, true},
	{"exists", docOperators, `{"ProductName":[{"exists":true}]}`, `{"ProductName":"Widget"}`, true},
	{"exists absent", docOperators, `{"ProductName":[{"exists":true}]}`, `{"Price":5}`, false},
	{"does not exist", docOperators, `{"ProductName":[{"exists":false}]}`, `{"Price":5}`, true},
	{"does not exist present", docOperators, `{"ProductName":[{"exists":false}]}`, `{"ProductName":"Widget"}`, false},
	{"not", docOperators, `{"Weather":[{"anything-but":["Raining"]}]}`, `{"Weather":"Sunny"}`, true},
	{"null", docOperators, `{"UserID":[null]}`, `{"UserID":null}`, true},
	{"numeric equals", docOperators, `{"Price":[{"numeric":["=",100]}]}`, `{"Price":100}`, true},
	{"numeric range", docOperators, `{"Price":[{"numeric":[">",10,"<=",20]}]}`, `{"Price":20}`, true},
	{"numeric range lower bound open", docOperators, `{"Price":[{"numeric":[">",10,"<=",20]}]}`, `{"Price":10}`, false},
	{"or values", docOperators, `{"PaymentType":["Credit","Debit"]}`, `{"PaymentType":"Debit"}`, true},
	{"or fields", docOperators, `{"$or":[{"Location":["New York"]},{"Day":["Monday"]}]}`, `{"Location":"Boston","Day":"Monday"}`, true},
	{"or fields neither", docOperators, `{"$or":[{"Location":["New York"]},{"Day":["Monday"]}]}`, `{"Location":"Boston","Day":"Friday"}`, false},
	{"wildcard", docOperators, `{"FileName":[{"wildcard":"dir/*.png"}]}`, `{"FileName":"dir/image.png"}`, true},
	{"wildcard crosses slashes", docOperators, `{"FileName":[{"wildcard":"dir/*.png"}]}`, `{"FileName":"dir/sub/image.png"}`, true},
	{"wildcard other folder", docOperators, `{"FileName":[{"wildcard":"dir/*.png"}]}`, `{"FileName":"other/image.png"}`, false},
	{"wildcard event bus arn", docOperators, `{"EventBusArn":[{"wildcard":"arn:aws:events:us-east-1:*:event-bus/*"}]}`,
		`{"EventBusArn":"arn:aws:events:us-east-1:123456789012:event-bus/myEventBus"}`, true},
	{"prefix on time", docOperators, `{"time":[{"prefix":"2017-10-02"}]}`, rulerEvent, true},
	{"cidr", docOperators, `{"detail":{"source-ip":[{"cidr":"10.0.0.0/24"}]}}`, rulerEvent, true},
	{"cidr outside", docOperators, `{"detail":{"source-ip":[{"cidr":"10.0.1.0/24"}]}}`, rulerEvent, false},
	{"cidr ipv6", docOperators, `{"sourceIPAddress":[{"cidr":"2001:db8::/64"}]}`, `{"sourceIPAddress":"2001:db8::1234"}`, true},
	{"cidr ipv6 outside", docOperators, `{"sourceIPAddress":[{"cidr":"2001:db8::/64"}]}`, `{"sourceIPAddress":"2001:db9::1"}`, false},
	{"cidr not an address", docOperators, `{"sourceIPAddress":[{"cidr":"10.0.0.0/8"}]}`, `{"sourceIPAddress":"ec2.amazonaws.com"}`, false},

	// event-ruler README examples, with its sample event.
	{"ruler simple", docRuler,
		`{"detail-type":["EC2 Instance State-change Notification"],"resources":["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],"detail":{"state":["initializing","running"]}}`,
		rulerEvent, true},
	{"ruler suffix", docRuler, `{"source":[{"suffix":"ec2"}]}`, rulerEvent, true},
	{"ruler equals-ignore-case", docRuler, `{"source":[{"equals-ignore-case":"AWS.EC2"}]}`, rulerEvent, true},
	{"ruler wildcard", docRuler, `{"source":[{"wildcard":"aws.*"}]}`, rulerEvent, true},
	{"ruler anything-but number", docRuler, `{"detail":{"x-limit":[{"anything-but":123}]}}`, rulerEvent, true},
	{"ruler anything-but number list", docRuler, `{"detail":{"x-limit":[{"anything-but":[100,200,300]}]}}`, rulerEvent, true},
	{"ruler anything-but number excluded", docRuler, `{"detail":{"x-limit":[{"anything-but":[301.8]}]}}`, rulerEvent, false},
	{"ruler anything-but prefix", docRuler, `{"detail":{"state":[{"anything-but":{"prefix":"init"}}]}}`, rulerEvent, true},
	{"ruler numeric", docRuler,
		`{"detail":{"c-count":[{"numeric":[">",0,"<=",5]}],"d-count":[{"numeric":["<",10]}],"x-limit":[{"numeric":["=",3.018e2]}]}}`,
		rulerEvent, true},
	{"ruler numeric fails", docRuler, `{"detail":{"c-count":[{"numeric":[">",5]}]}}`, rulerEvent, false},
	{"ruler exists", docRuler, `{"detail":{"c-count":[{"exists":true}]}}`, rulerEvent, true},
	{"ruler exists false", docRuler, `{"detail":{"c-count":[{"exists":false}]}}`, rulerEvent, false},
	{"ruler exists false on object", docRuler, `{"detail":{"c-count":[{"exists":false}]}}`, `{"detail":{"c-count":{"c1":100}}}`, true},
	{"ruler exists true on object", docRuler, `{"detail":{"c-count":[{"exists":true}]}}`, `{"detail":{"c-count":{"c1":100}}}`, false},
	{"ruler complex", docRuler,
		`{"time":[{"prefix":"2017-10-02"}],"detail":{"state":[{"anything-but":"initializing"}],"c-count":[{"numeric":[">",0,"<=",5]}],"d-count":[{"numeric":["<",10]}],"x-limit":[{"anything-but":[100,200,300]}],"source-ip":[{"cidr":"10.0.0.0/8"}]}}`,
		rulerEvent, true},
	{"ruler or", docRuler,
		`{"source":["aws.cloudwatch"],"$or":[{"metricName":["CPUUtilization","ReadLatency"]},{"namespace":["AWS/EC2","AWS/ES"]}]}`,
		`{"source":"aws.cloudwatch","namespace":"AWS/ES"}`, true},
	{"ruler or wrong source", docRuler,
		`{"source":["aws.cloudwatch"],"$or":[{"metricName":["CPUUtilization","ReadLatency"]},{"namespace":["AWS/EC2","AWS/ES"]}]}`,
		`{"source":"aws.ec2","namespace":"AWS/ES"}`, false},
	{"ruler parallel or", docRuler,
		`{"$or":[{"metricName":["CPUUtilization","ReadLatency"]},{"namespace":["AWS/EC2","AWS/ES"]}],"detail":{"$or":[{"source":["aws.cloudwatch"]},{"detail-type":["CloudWatch Alarm State Change"]}]}}`,
		`{"metricName":"ReadLatency","detail":{"detail-type":"CloudWatch Alarm State Change"}}`, true},
	{"ruler parallel or half", docRuler,
		`{"$or":[{"metricName":["CPUUtilization","ReadLatency"]},{"namespace":["AWS/EC2","AWS/ES"]}],"detail":{"$or":[{"source":["aws.cloudwatch"]},{"detail-type":["CloudWatch Alarm State Change"]}]}}`,
		`{"metricName":"ReadLatency","detail":{"detail-type":"other"}}`, false},
	{"ruler or of numerics", docRuler,
		`{"detail":{"$or":[{"c-count":[{"numeric":[">",0,"<=",5]}]},{"d-count":[{"numeric":["<",10]}]},{"x-limit":[{"numeric":["=",3.018e2]}]}]}}`,
		`{"detail":{"c-count":9,"d-count":12,"x-limit":301.8}}`, true},
	{"ruler or of numerics none", docRuler,
		`{"detail":{"$or":[{"c-count":[{"numeric":[">",0,"<=",5]}]},{"d-count":[{"numeric":["<",10]}]},{"x-limit":[{"numeric":["=",3.018e2]}]}]}}`,
		`{"detail":{"c-count":9,"d-count":12,"x-limit":301.9}}`, false},
	{"ruler nested or", docRuler,
		`{"source":["aws.cloudwatch"],"$or":[{"metricName":["CPUUtilization","ReadLatency"]},{"metricType":["MetricType"],"namespace":["AWS/EC2","AWS/ES"],"$or":[{"metricId":[1234]},{"spaceId":[1000]}]},{"scope":["Service"]}]}`,
		`{"source":"aws.cloudwatch","metricType":"MetricType","namespace":"AWS/EC2","spaceId":1000}`, true},
	{"ruler nested or inner fails", docRuler,
		`{"source":["aws.cloudwatch"],"$or":[{"metricName":["CPUUtilization","ReadLatency"]},{"metricType":["MetricType"],"namespace":["AWS/EC2","AWS/ES"],"$or":[{"metricId":[1234]},{"spaceId":[1000]}]},{"scope":["Service"]}]}`,
		`{"source":"aws.cloudwatch","metricType":"MetricType","namespace":"AWS/EC2","spaceId":1001}`, false},
	{"ruler array of objects", docRuler, `{"employees":{"firstName":["Anna"]}}`, employeesEvent, true},
	{"ruler array same element", docRuler, `{"employees":{"firstName":["Anna"],"lastName":["Smith"]}}`, employeesEvent, true},
	{"ruler array different elements", docRuler, `{"employees":{"firstName":["Anna"],"lastName":["Jones"]}}`, employeesEvent, false},
	{"ruler nested arrays", docRuler, `{"employees":{"firstName":["Peter"],"lastName":["Jones"]}}`,
		`{"employees":[[{"firstName":"John","lastName":"Doe"},{"firstName":"Anna","lastName":"Smith"}],[{"firstName":"Peter","lastName":"Jones"}]]}`, true},
	{"ruler nested arrays different", docRuler, `{"employees":{"firstName":["John"],"lastName":["Jones"]}}`,
		`{"employees":[[{"firstName":"John","lastName":"Doe"},{"firstName":"Anna","lastName":"Smith"}],[{"firstName":"Peter","lastName":"Jones"}]]}`, false},

	// eb-event-patterns-arrays: the pattern array and the event array intersect.
	{"arrays intersect", docArrays,
		`{"resources":["arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f","arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f","arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f"]}`,
		`{"resources":["arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:eb56d16b-bbf0-401d-b893-d5978ed4a025:autoScalingGroupName/ASGTerminate","arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f"]}`,
		true},
	{"arrays disjoint", docArrays,
		`{"resources":["arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f"]}`,
		`{"resources":["arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f"]}`,
		false},

	// eb-event-patterns-null-values: null, empty strings and missing fields differ.
	{"null matches null", docNull, `{"detail":{"responseElements":[null]}}`, `{"detail":{"responseElements":null}}`, true},
	{"null does not match missing", docNull, `{"detail":{"responseElements":[null]}}`, `{"detail":{}}`, false},
	{"null does not match empty", docNull, `{"detail":{"responseElements":[null]}}`, `{"detail":{"responseElements":""}}`, false},
	{"empty matches empty", docNull, `{"detail":{"eventVersion":[""]}}`, `{"detail":{"eventVersion":""}}`, true},
	{"empty does not match null", docNull, `{"detail":{"eventVersion":[""]}}`, `{"detail":{"eventVersion":null}}`, false},
}

// ownCases pin down semantics the documents leave implicit (see doc.go).
var ownCases = []matchCase{
	{"typed: string does not match number", "", `{"a":["5"]}`, `{"a":5}`, false},
	{"typed: number does not match string", "", `{"a":[5]}`, `{"a":"5"}`, false},
	{"number matches its other spelling", "", `{"a":[5]}`, `{"a":5.0}`, true},
	{"number in exponent form", "", `{"a":[300]}`, `{"a":3e2}`, true},
	{"large number compared as text", "", `{"account":[123456789012]}`, `{"account":123456789012}`, true},
	{"large number other spelling", "", `{"account":[123456789012]}`, `{"account":123456789012.0}`, false},
	{"true", "", `{"a":[true]}`, `{"a":true}`, true},
	{"true is not the string", "", `{"a":[true]}`, `{"a":"true"}`, false},
	{"false", "", `{"a":[false]}`, `{"a":false}`, true},
	{"prefix only on strings", "", `{"a":[{"prefix":"1"}]}`, `{"a":12}`, false},
	{"numeric only on numbers", "", `{"a":[{"numeric":[">",0]}]}`, `{"a":"12"}`, false},
	{"numeric out of range value", "", `{"a":[{"numeric":[">",0]}]}`, `{"a":6e9}`, false},
	{"anything-but string matches number", "", `{"a":[{"anything-but":"x"}]}`, `{"a":5}`, true},
	{"anything-but number matches string", "", `{"a":[{"anything-but":5}]}`, `{"a":"5"}`, true},
	{"anything-but number spelled otherwise", "", `{"a":[{"anything-but":5}]}`, `{"a":5.0}`, false},
	{"anything-but on array: one element not excluded", "", `{"a":[{"anything-but":"x"}]}`, `{"a":["x","y"]}`, true},
	{"anything-but on array: all excluded", "", `{"a":[{"anything-but":"x"}]}`, `{"a":["x","x"]}`, false},
	{"anything-but on empty array", "", `{"a":[{"anything-but":"x"}]}`, `{"a":[]}`, false},
	{"exists true on null", "", `{"a":[{"exists":true}]}`, `{"a":null}`, true},
	{"exists false on empty array", "", `{"a":[{"exists":false}]}`, `{"a":[]}`, true},
	{"exists false or value", "", `{"a":[{"exists":false},"x"]}`, `{"a":"x"}`, true},
	{"exists false or value absent", "", `{"a":[{"exists":false},"x"]}`, `{"b":"x"}`, true},
	{"exists false or value other", "", `{"a":[{"exists":false},"x"]}`, `{"a":"y"}`, false},
	{"exists false in element", "", `{"e":{"first":["Anna"],"middle":[{"exists":false}]}}`,
		`{"e":[{"first":"John","middle":"M"},{"first":"Anna"}]}`, true},
	{"exists false in element present", "", `{"e":{"first":["Anna"],"middle":[{"exists":false}]}}`,
		`{"e":[{"first":"John"},{"first":"Anna","middle":"M"}]}`, false},
	{"scalar array elements and object field", "", `{"e":{"tags":["b"],"name":["x"]}}`,
		`{"e":[{"name":"x","tags":["a","b"]},{"name":"y"}]}`, true},
	{"scalar array in other element", "", `{"e":{"tags":["b"],"name":["y"]}}`,
		`{"e":[{"name":"x","tags":["a","b"]},{"name":"y"}]}`, false},
	{"object field inside scalar-valued array", "", `{"a":{"b":["x"]}}`, `{"a":["x",{"b":"x"}]}`, true},
	{"leaf pattern on object value", "", `{"detail":["x"]}`, `{"detail":{"a":"x"}}`, false},
	{"escaped event string", "", `{"a":["é\"q"]}`, `{"a":"\u00e9\"q"}`, true},
	{"escaped event key", "", `{"a-b":["x"]}`, `{"a\u002db":"x"}`, true},
	{"repeated event key: first value", "", `{"a":["x"]}`, `{"a":"x","a":"y"}`, true},
	{"repeated event key: last value", "", `{"a":["y"]}`, `{"a":"x","a":"y"}`, true},
	{"dotted key is not a path", "", `{"a":{"b":["x"]}}`, `{"a.b":"x"}`, false},
	{"surrogate pair", "", `{"a":["😀"]}`, `{"a":"\ud83d\ude00"}`, true},
	{"lone surrogate", "", `{"a":["\ufffdx"]}`, `{"a":"\ud83dx"}`, true},
	{"invalid UTF-8 as in encoding/json", "", `{"a":["\ufffd\ufffdé"]}`, "{\"a\":\"\xff\xfeé\"}", true},
	{"invalid UTF-8 after an escape", "", `{"a":["\n\ufffd"]}`, "{\"a\":\"\\n\xff\"}", true},
	{"wildcard escaped star", "", `{"a":[{"wildcard":"a\\*b*"}]}`, `{"a":"a*bc"}`, true},
	{"wildcard escaped star literal", "", `{"a":[{"wildcard":"a\\*b*"}]}`, `{"a":"axbc"}`, false},
	{"wildcard escaped backslash", "", `{"a":[{"wildcard":"a\\\\*"}]}`, `{"a":"a\\z"}`, true},
	{"wildcard no star is exact", "", `{"a":[{"wildcard":"abc"}]}`, `{"a":"abcd"}`, false},
	{"wildcard overlap", "", `{"a":[{"wildcard":"ab*ba"}]}`, `{"a":"aba"}`, false},
	{"wildcard middle parts", "", `{"a":[{"wildcard":"*a*b*c*"}]}`, `{"a":"xxaxxbxxcxx"}`, true},
	{"wildcard middle parts order", "", `{"a":[{"wildcard":"*a*b*c*"}]}`, `{"a":"xxcxxbxxaxx"}`, false},
	{"prefix ignore case multibyte", "", `{"a":[{"prefix":{"equals-ignore-case":"ÉCO"}}]}`, `{"a":"école"}`, true},
	{"suffix ignore case multibyte", "", `{"a":[{"suffix":{"equals-ignore-case":"ÉE"}}]}`, `{"a":"une allée"}`, true},
	{"exact ip address", "", `{"ip":["2001:db8::1"]}`, `{"ip":"2001:DB8:0::1"}`, true},
	{"exact ip address differs", "", `{"ip":["2001:db8::1"]}`, `{"ip":"2001:db8::2"}`, false},
	{"exact ipv4 as mapped ipv6", "", `{"ip":["10.1.2.3"]}`, `{"ip":"::ffff:10.1.2.3"}`, true},
	{"anything-but ip is literal", "", `{"ip":[{"anything-but":"2001:db8::1"}]}`, `{"ip":"2001:DB8::1"}`, true},
	{"cidr ipv4 exact host", "", `{"ip":[{"cidr":"192.168.10.20/32"}]}`, `{"ip":"192.168.10.20"}`, true},
	{"cidr ipv4 mapped event", "", `{"ip":[{"cidr":"10.0.0.0/8"}]}`, `{"ip":"::ffff:10.1.2.3"}`, true},
	{"numeric >= lower", "", `{"a":[{"numeric":[">=",1.5,"<",2]}]}`, `{"a":1.5}`, true},
	{"numeric < upper open", "", `{"a":[{"numeric":[">=",1.5,"<",2]}]}`, `{"a":2}`, false},
	{"numeric six decimals", "", `{"a":[{"numeric":["=",0.000001]}]}`, `{"a":1e-6}`, true},
	{"numeric negative", "", `{"a":[{"numeric":["<",0]}]}`, `{"a":-0.5}`, true},
	{"or inside nested object", "", `{"detail":{"$or":[{"a":["1"]},{"b":["2"]}],"c":["3"]}}`, `{"detail":{"b":"2","c":"3"}}`, true},
	{"or needs the and", "", `{"detail":{"$or":[{"a":["1"]},{"b":["2"]}],"c":["3"]}}`, `{"detail":{"b":"2","c":"4"}}`, false},
	{"same field in and and or", "", `{"a":[{"prefix":"x"}],"$or":[{"a":["xy"]},{"b":["1"]}]}`, `{"a":"xz","b":"1"}`, true},
	{"deep path", "", `{"detail":{"userIdentity":{"sessionContext":{"sessionIssuer":{"type":["Role"]}}}}}`,
		`{"detail":{"userIdentity":{"sessionContext":{"sessionIssuer":{"type":"Role"}}}}}`, true},
}

func runMatchCases(t *testing.T, cases []matchCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse([]byte(tc.pattern))
			if err != nil {
				t.Fatalf("Parse(%s): %v", tc.pattern, err)
			}
			got, err := p.Match([]byte(tc.event))
			if err != nil {
				t.Fatalf("Match: %v", err)
			}
			if got != tc.want {
				t.Errorf("pattern %s\nevent %s\nmatch = %v, want %v (%s)", tc.pattern, tc.event, got, tc.want, tc.doc)
			}
			// The same through a set holding other rules.
			s := NewSet()
			s.Add("rule", p)
			s.Add("other", mustParse(t, `{"zzz":["never"]}`))
			ids, err := s.Match([]byte(tc.event))
			if err != nil {
				t.Fatalf("Set.Match: %v", err)
			}
			if (len(ids) == 1 && ids[0] == "rule") != tc.want || len(ids) > 1 {
				t.Errorf("Set.Match = %v, want rule matched = %v", ids, tc.want)
			}
		})
	}
}

func TestDocumentationCases(t *testing.T) { runMatchCases(t, docCases) }

func TestSemantics(t *testing.T) { runMatchCases(t, ownCases) }

func mustParse(tb testing.TB, s string) *Pattern {
	tb.Helper()
	p, err := Parse([]byte(s))
	if err != nil {
		tb.Fatalf("Parse(%s): %v", s, err)
	}
	return p
}
