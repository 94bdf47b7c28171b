package eventpattern_test

import (
	"errors"
	"fmt"

	"github.com/opentrail/opentrail/internal/eventpattern"
)

const event = `{"version":"0","id":"1","detail-type":"AWS API Call via CloudTrail","source":"aws.iam",
"account":"123456789012","time":"2023-07-10T12:24:49Z","region":"us-east-1","resources":[],
"detail":{"eventSource":"iam.amazonaws.com","eventName":"AttachUserPolicy","errorCode":"AccessDenied",
"requestParameters":{"userName":"mallory","policyArn":"arn:aws:iam::aws:policy/AdministratorAccess"}}}`

func ExampleSet() {
	s := eventpattern.NewSet()
	for id, text := range map[string]string{
		"iam-policy-changes": `{"source":["aws.iam"],"detail":{"eventName":["AttachUserPolicy","PutUserPolicy"]}}`,
		"access-denied":      `{"detail":{"errorCode":[{"prefix":"AccessDenied"}]}}`,
		"console-logins":     `{"detail-type":["AWS Console Sign In via CloudTrail"]}`,
	} {
		p, err := eventpattern.Parse([]byte(text))
		if err != nil {
			panic(err)
		}
		s.Add(id, p)
	}
	ids, err := s.Match([]byte(event))
	fmt.Println(ids, err)
	// Output: [access-denied iam-policy-changes] <nil>
}

func ExampleParse_error() {
	_, err := eventpattern.Parse([]byte(`{"detail":{"eventName":[{"anything-but":["a",1]}]}}`))
	var pe *eventpattern.Error
	if errors.As(err, &pe) {
		fmt.Println(pe.Path)
	}
	fmt.Println(err)
	// Output:
	// detail.eventName[0].anything-but
	// Event pattern is not valid. Reason: Inside anything but list, either all values are number or string, mixed type is not supported (at detail.eventName[0].anything-but)
}

func ExampleInputTransformer() {
	t, err := eventpattern.NewInputTransformer(map[string]string{
		"user":   "$.detail.requestParameters.userName",
		"policy": "$.detail.requestParameters.policyArn",
	}, `{"text": "<policy> attached to <user> by rule <aws.events.rule-name>", "user": <user>}`)
	if err != nil {
		panic(err)
	}
	out, err := t.Transform([]byte(event), eventpattern.RuleInfo{Name: "iam-policy-changes"})
	fmt.Println(string(out), err)
	// Output: {"text": "arn:aws:iam::aws:policy/AdministratorAccess attached to mallory by rule iam-policy-changes", "user": "mallory"} <nil>
}

func ExampleApplyInputPath() {
	out, err := eventpattern.ApplyInputPath([]byte(event), "$.detail.requestParameters")
	fmt.Println(string(out), err)
	// Output: {"userName":"mallory","policyArn":"arn:aws:iam::aws:policy/AdministratorAccess"} <nil>
}
