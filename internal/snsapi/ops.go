package snsapi

import (
	"context"
	"encoding/base64"
	"maps"
	"slices"
	"strings"

	"github.com/opentrail/opentrail/internal/awsquery"
	"github.com/opentrail/opentrail/internal/sns"
)

// operation is one SNS action: how it is recorded and how it runs.
type operation struct {
	readOnly bool
	data     bool // recorded as a data event (Publish)
	run      func(ctx context.Context, e Engine, c *call) (any, error)
}

// operations are the actions of alerts.md §1.4; anything else is
// InvalidAction.
var operations = map[string]*operation{
	"CreateTopic":               {run: createTopic},
	"DeleteTopic":               {run: deleteTopic},
	"ListTopics":                {readOnly: true, run: listTopics},
	"GetTopicAttributes":        {readOnly: true, run: getTopicAttributes},
	"SetTopicAttributes":        {run: setTopicAttributes},
	"Subscribe":                 {run: subscribe},
	"ConfirmSubscription":       {run: confirmSubscription},
	"Unsubscribe":               {run: unsubscribe},
	"ListSubscriptions":         {readOnly: true, run: listSubscriptions},
	"ListSubscriptionsByTopic":  {readOnly: true, run: listSubscriptionsByTopic},
	"GetSubscriptionAttributes": {readOnly: true, run: getSubscriptionAttributes},
	"SetSubscriptionAttributes": {run: setSubscriptionAttributes},
	"Publish":                   {data: true, run: publish},
	"TagResource":               {run: tagResource},
	"UntagResource":             {run: untagResource},
	"ListTagsForResource":       {readOnly: true, run: listTagsForResource},
}

func operationNames() []string {
	return slices.Sorted(maps.Keys(operations))
}

// required returns a required scalar member.
func required(f awsquery.Form, name string) (string, error) {
	v, ok := f[name]
	if !ok || v == "" {
		return "", invalidParam("Invalid parameter: %s Reason: 1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", name, lowerFirst(name))
	}
	return v, nil
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// tagList reads Tags.member.N.Key/Value.
func tagList(f awsquery.Form) (map[string]string, error) {
	items, err := f.Structs("Tags")
	if err != nil || items == nil {
		return nil, err
	}
	out := make(map[string]string, len(items))
	for _, it := range items {
		k, ok := it["Key"]
		if !ok {
			return nil, invalidParam("Invalid parameter: Tags: each tag needs a Key")
		}
		out[k] = it["Value"]
	}
	return out, nil
}

type topicARNResult struct {
	TopicArn string `xml:"TopicArn" json:"TopicArn"`
}

func createTopic(ctx context.Context, e Engine, c *call) (any, error) {
	name, err := required(c.form, "Name")
	if err != nil {
		return nil, err
	}
	attrs, err := c.form.Map("Attributes")
	if err != nil {
		return nil, err
	}
	tags, err := tagList(c.form)
	if err != nil {
		return nil, err
	}
	arn, err := e.CreateTopic(ctx, c.caller.AccountID, c.caller.Region, name, attrs, tags)
	return topicARNResult{arn}, err
}

func deleteTopic(ctx context.Context, e Engine, c *call) (any, error) {
	arn, err := required(c.form, "TopicArn")
	if err != nil {
		return nil, err
	}
	return nil, e.DeleteTopic(ctx, c.caller.AccountID, arn)
}

type listTopicsResult struct {
	Topics    []topicARNResult `xml:"Topics>member"`
	NextToken string           `xml:"NextToken,omitempty"`
}

func listTopics(ctx context.Context, e Engine, c *call) (any, error) {
	arns, next, err := e.ListTopics(ctx, c.caller.AccountID, c.caller.Region, c.form["NextToken"])
	if err != nil {
		return nil, err
	}
	out := listTopicsResult{NextToken: next, Topics: []topicARNResult{}}
	for _, a := range arns {
		out.Topics = append(out.Topics, topicARNResult{a})
	}
	return out, nil
}

type attributesResult struct {
	Attributes []awsquery.Entry `xml:"Attributes>entry"`
}

func getTopicAttributes(ctx context.Context, e Engine, c *call) (any, error) {
	arn, err := required(c.form, "TopicArn")
	if err != nil {
		return nil, err
	}
	attrs, err := e.TopicAttributes(ctx, c.caller.AccountID, arn)
	return attributesResult{awsquery.Entries(attrs)}, err
}

func setTopicAttributes(ctx context.Context, e Engine, c *call) (any, error) {
	arn, err := required(c.form, "TopicArn")
	if err != nil {
		return nil, err
	}
	name, err := required(c.form, "AttributeName")
	if err != nil {
		return nil, err
	}
	return nil, e.SetTopicAttribute(ctx, c.caller.AccountID, arn, name, c.form["AttributeValue"])
}

type subscriptionARNResult struct {
	SubscriptionArn string `xml:"SubscriptionArn" json:"SubscriptionArn"`
}

func subscribe(ctx context.Context, e Engine, c *call) (any, error) {
	arn, err := required(c.form, "TopicArn")
	if err != nil {
		return nil, err
	}
	protocol, err := required(c.form, "Protocol")
	if err != nil {
		return nil, err
	}
	attrs, err := c.form.Map("Attributes")
	if err != nil {
		return nil, err
	}
	sub, err := e.Subscribe(ctx, c.caller.AccountID, arn, protocol, c.form["Endpoint"], attrs, c.form["ReturnSubscriptionArn"] == "true")
	return subscriptionARNResult{sub}, err
}

type confirmResult = subscriptionARNResult

func confirmSubscription(ctx context.Context, e Engine, c *call) (any, error) {
	arn, err := required(c.form, "TopicArn")
	if err != nil {
		return nil, err
	}
	tok, err := required(c.form, "Token")
	if err != nil {
		return nil, err
	}
	sub, err := e.ConfirmSubscription(ctx, c.caller.AccountID, arn, tok, c.form["AuthenticateOnUnsubscribe"] == "true")
	return confirmResult{sub}, err
}

func unsubscribe(ctx context.Context, e Engine, c *call) (any, error) {
	arn, err := required(c.form, "SubscriptionArn")
	if err != nil {
		return nil, err
	}
	return nil, e.Unsubscribe(ctx, c.caller.AccountID, arn)
}

type subscriptionRow struct {
	SubscriptionArn string `xml:"SubscriptionArn"`
	Owner           string `xml:"Owner"`
	Protocol        string `xml:"Protocol"`
	Endpoint        string `xml:"Endpoint"`
	TopicArn        string `xml:"TopicArn"`
}

type listSubscriptionsResult struct {
	Subscriptions []subscriptionRow `xml:"Subscriptions>member"`
	NextToken     string            `xml:"NextToken,omitempty"`
}

func subscriptionRows(subs []sns.Subscription, next string) listSubscriptionsResult {
	out := listSubscriptionsResult{NextToken: next, Subscriptions: []subscriptionRow{}}
	for _, s := range subs {
		out.Subscriptions = append(out.Subscriptions, subscriptionRow{s.SubscriptionARN, s.Owner, s.Protocol, s.Endpoint, s.TopicARN})
	}
	return out
}

func listSubscriptions(ctx context.Context, e Engine, c *call) (any, error) {
	subs, next, err := e.ListSubscriptions(ctx, c.caller.AccountID, "", c.form["NextToken"])
	return subscriptionRows(subs, next), err
}

func listSubscriptionsByTopic(ctx context.Context, e Engine, c *call) (any, error) {
	arn, err := required(c.form, "TopicArn")
	if err != nil {
		return nil, err
	}
	subs, next, err := e.ListSubscriptions(ctx, c.caller.AccountID, arn, c.form["NextToken"])
	return subscriptionRows(subs, next), err
}

func getSubscriptionAttributes(ctx context.Context, e Engine, c *call) (any, error) {
	arn, err := required(c.form, "SubscriptionArn")
	if err != nil {
		return nil, err
	}
	attrs, err := e.SubscriptionAttributes(ctx, c.caller.AccountID, arn)
	return attributesResult{awsquery.Entries(attrs)}, err
}

func setSubscriptionAttributes(ctx context.Context, e Engine, c *call) (any, error) {
	arn, err := required(c.form, "SubscriptionArn")
	if err != nil {
		return nil, err
	}
	name, err := required(c.form, "AttributeName")
	if err != nil {
		return nil, err
	}
	return nil, e.SetSubscriptionAttribute(ctx, c.caller.AccountID, arn, name, c.form["AttributeValue"])
}

type publishResult struct {
	MessageID string `xml:"MessageId" json:"MessageId"`
}

func publish(ctx context.Context, e Engine, c *call) (any, error) {
	arn := c.form["TopicArn"]
	if arn == "" {
		arn = c.form["TargetArn"]
	}
	if arn == "" {
		if c.form["PhoneNumber"] != "" {
			return nil, invalidParam("Invalid parameter: PhoneNumber: OpenTrail does not send SMS")
		}
		return nil, invalidParam("Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter")
	}
	in := sns.PublishInput{TopicARN: arn, Subject: c.form["Subject"], Message: c.form["Message"], MessageStructure: c.form["MessageStructure"]}
	attrs, err := c.form.StructMap("MessageAttributes", "Name", "Value")
	if err != nil {
		return nil, err
	}
	if len(attrs) > 0 {
		in.Attributes = map[string]sns.MessageAttribute{}
		for name, v := range attrs {
			a := sns.MessageAttribute{DataType: v["DataType"], StringValue: v["StringValue"]}
			if b, ok := v["BinaryValue"]; ok {
				if a.BinaryValue, err = base64.StdEncoding.DecodeString(b); err != nil {
					return nil, invalidParam("Invalid parameter: MessageAttributes: the binary value of '%s' is not base64", name)
				}
			}
			in.Attributes[name] = a
		}
	}
	id, err := e.PublishAs(ctx, c.caller.AccountID, in)
	return publishResult{id}, err
}

func tagResource(ctx context.Context, e Engine, c *call) (any, error) {
	arn, err := required(c.form, "ResourceArn")
	if err != nil {
		return nil, err
	}
	tags, err := tagList(c.form)
	if err != nil {
		return nil, err
	}
	return struct{}{}, e.TagResource(ctx, c.caller.AccountID, arn, tags)
}

func untagResource(ctx context.Context, e Engine, c *call) (any, error) {
	arn, err := required(c.form, "ResourceArn")
	if err != nil {
		return nil, err
	}
	keys, err := c.form.Members("TagKeys")
	if err != nil {
		return nil, err
	}
	return struct{}{}, e.UntagResource(ctx, c.caller.AccountID, arn, keys)
}

type tag struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

type listTagsResult struct {
	Tags []tag `xml:"Tags>member"`
}

func listTagsForResource(ctx context.Context, e Engine, c *call) (any, error) {
	arn, err := required(c.form, "ResourceArn")
	if err != nil {
		return nil, err
	}
	tags, err := e.ListTags(ctx, c.caller.AccountID, arn)
	out := listTagsResult{Tags: []tag{}}
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		out.Tags = append(out.Tags, tag{k, tags[k]})
	}
	return out, err
}
