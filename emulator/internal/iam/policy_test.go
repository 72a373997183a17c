package iam

import (
	"strings"
	"testing"
)

func TestWildcardMatch(t *testing.T) {
	cases := []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true},
		{"*", "anything", true},
		{"kms:*", "kms:Decrypt", true},
		{"kms:Decrypt", "kms:Decrypt", true},
		{"kms:Decrypt", "kms:DecryptX", false},
		{"kms:Re*crypt*", "kms:ReEncryptFrom", true},
		{"ssm:Get?arameter", "ssm:GetParameter", true},
		{"ssm:Get?arameter", "ssm:GetParameters", false},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
		{"arn:aws:ssm:*:*:parameter/ts/*", "arn:aws:ssm:us-east-1:123456789012:parameter/ts/node1/part", true},
		{"", "", true},
		{"", "x", false},
	}
	for _, c := range cases {
		if got := wildcardMatch(c.pattern, c.s); got != c.want {
			t.Errorf("wildcardMatch(%q, %q) = %v, want %v", c.pattern, c.s, got, c.want)
		}
	}
}

func TestArnLikeMatchesPartByPart(t *testing.T) {
	if !arnLike("arn:aws:iam::*:user/*", "arn:aws:iam::123456789012:user/node1") {
		t.Error("user pattern does not match a user")
	}
	// A * in the account part must not swallow the colon into the resource.
	if arnLike("arn:aws:iam::*:user/*", "arn:aws:iam::123456789012:role/user/x") {
		t.Error("account wildcard crossed into the resource part")
	}
}

func TestConditionHolds(t *testing.T) {
	cases := []struct {
		op     string
		req    []string
		policy []string
		want   bool
	}{
		{"StringEquals", []string{"a"}, []string{"a", "b"}, true},
		{"StringEquals", []string{"c"}, []string{"a", "b"}, false},
		{"StringEquals", nil, []string{"a"}, false},
		{"StringEqualsIfExists", nil, []string{"a"}, true},
		{"StringEqualsIfExists", []string{"c"}, []string{"a"}, false},
		{"StringNotEquals", []string{"c"}, []string{"a", "b"}, true},
		{"StringNotEquals", []string{"a"}, []string{"a", "b"}, false},
		{"StringNotEquals", nil, []string{"a"}, true},
		{"StringNotEqualsIfExists", nil, []string{"a"}, true},
		{"StringEqualsIgnoreCase", []string{"ABC"}, []string{"abc"}, true},
		{"StringLike", []string{"ssm.us-east-1.amazonaws.com"}, []string{"ssm.*.amazonaws.com"}, true},
		{"StringNotLike", []string{"ssm.us-east-1.amazonaws.com"}, []string{"ssm.*"}, false},
		{"ArnLike", []string{"arn:aws:ssm:us-east-1:1:parameter/a"}, []string{"arn:aws:ssm:*:*:parameter/*"}, true},
		{"ArnNotLike", []string{"arn:aws:ssm:us-east-1:1:parameter/a"}, []string{"arn:aws:ssm:*:*:parameter/b"}, true},
		{"Bool", []string{"true"}, []string{"True"}, true},
		{"BoolIfExists", nil, []string{"true"}, true},
		{"Null", nil, []string{"true"}, true},
		{"Null", []string{"x"}, []string{"true"}, false},
		{"Null", []string{"x"}, []string{"false"}, true},
		{"ForAnyValue:StringEquals", []string{"x", "PARAMETER_ARN"}, []string{"PARAMETER_ARN"}, true},
		{"ForAnyValue:StringEquals", []string{"x"}, []string{"PARAMETER_ARN"}, false},
		{"ForAnyValue:StringEquals", nil, []string{"PARAMETER_ARN"}, false},
		{"ForAllValues:StringEquals", []string{"PARAMETER_ARN"}, []string{"PARAMETER_ARN", "y"}, true},
		{"ForAllValues:StringEquals", []string{"PARAMETER_ARN", "z"}, []string{"PARAMETER_ARN"}, false},
		{"ForAllValues:StringEquals", nil, []string{"PARAMETER_ARN"}, true},
	}
	for _, c := range cases {
		base, ifExists, set, err := parseOperator(c.op)
		if err != nil {
			t.Fatalf("%s: %v", c.op, err)
		}
		if got := conditionHolds(base, ifExists, set, c.req, c.policy); got != c.want {
			t.Errorf("%s request %q policy %q = %v, want %v", c.op, c.req, c.policy, got, c.want)
		}
	}
}

func TestParsePolicyRefusesWhatItCannotEvaluate(t *testing.T) {
	bad := map[string]string{
		"unsupported operator": `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NumericLessThan":{"aws:x":"1"}}}]}`,
		"bad qualifier":        `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"ForSome:StringEquals":{"aws:x":"1"}}}]}`,
		"Action and NotAction": `{"Statement":[{"Effect":"Allow","Action":"*","NotAction":"kms:*","Resource":"*"}]}`,
		"no Action":            `{"Statement":[{"Effect":"Allow","Resource":"*"}]}`,
		"bad Effect":           `{"Statement":[{"Effect":"allow","Action":"*","Resource":"*"}]}`,
		"string Principal":     `{"Statement":[{"Effect":"Allow","Principal":"arn:aws:iam::1:root","Action":"*","Resource":"*"}]}`,
	}
	for name, doc := range bad {
		if _, err := ParsePolicy([]byte(doc)); err == nil {
			t.Errorf("%s: accepted %s", name, doc)
		}
	}
	if _, err := ParsePolicy([]byte(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ssm:GetParameter","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":false}}}}`)); err != nil {
		t.Errorf("single statement object with a boolean condition value: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	good := `{"account":"123456789012","principals":[{"arn":"arn:aws:iam::123456789012:user/a","accessKeyId":"K1","secretAccessKey":"s"}]}`
	if _, err := Parse([]byte(good)); err != nil {
		t.Fatalf("valid file: %v", err)
	}
	bad := map[string]string{
		"short account":    strings.Replace(good, "123456789012\",\"principals", "1234\",\"principals", 1),
		"other account":    strings.Replace(good, "iam::123456789012:", "iam::999999999999:", 1),
		"not IAM":          strings.Replace(good, "arn:aws:iam::123456789012:user/a", "arn:aws:sts::123456789012:assumed-role/a/s", 1),
		"missing secret":   strings.Replace(good, `"secretAccessKey":"s"`, `"secretAccessKey":""`, 1),
		"unknown field":    strings.Replace(good, `"accessKeyId"`, `"accessKey"`, 1),
		"duplicate key id": `{"account":"123456789012","principals":[{"arn":"arn:aws:iam::123456789012:user/a","accessKeyId":"K1","secretAccessKey":"s"},{"arn":"arn:aws:iam::123456789012:user/b","accessKeyId":"K1","secretAccessKey":"t"}]}`,
	}
	for name, doc := range bad {
		if _, err := Parse([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
