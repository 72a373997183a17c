package locator

import (
	"errors"
	"strings"
	"testing"
)

func TestParseValid(t *testing.T) {
	tests := []struct {
		in   string
		want Locator
		arn  string // ParameterARN
		str  string // String(), when it differs from in
	}{
		{
			in:   "arn:aws:ssm:us-east-1:123456789012:parameter/node1",
			want: Locator{Kind: KindSSM, Partition: "aws", Region: "us-east-1", Account: "123456789012", ParameterName: "/node1"},
			arn:  "arn:aws:ssm:us-east-1:123456789012:parameter/node1",
		},
		{
			in:   "arn:aws:ssm:us-east-1:123456789012:parameter/ts/prod/node1?kmsKey=alias/ts-prod",
			want: Locator{Kind: KindSSM, Partition: "aws", Region: "us-east-1", Account: "123456789012", ParameterName: "/ts/prod/node1", KMSKey: "alias/ts-prod"},
			arn:  "arn:aws:ssm:us-east-1:123456789012:parameter/ts/prod/node1",
		},
		{
			// A bare NAME becomes alias/NAME, as in awsstore.
			in:   "arn:aws:ssm:us-east-1:123456789012:parameter/n?kmsKey=ts-prod",
			want: Locator{Kind: KindSSM, Partition: "aws", Region: "us-east-1", Account: "123456789012", ParameterName: "/n", KMSKey: "alias/ts-prod"},
			str:  "arn:aws:ssm:us-east-1:123456789012:parameter/n?kmsKey=alias/ts-prod",
		},
		{
			// A key id is kept (awsstore would turn it into alias/<id>).
			in:   "arn:aws:ssm:us-east-1:123456789012:parameter/n?kmsKey=1234abcd-12ab-34cd-56ef-1234567890ab",
			want: Locator{Kind: KindSSM, Partition: "aws", Region: "us-east-1", Account: "123456789012", ParameterName: "/n", KMSKey: "1234abcd-12ab-34cd-56ef-1234567890ab"},
		},
		{
			in:   "arn:aws:ssm:us-east-1:123456789012:parameter/n?kmsKey=mrk-1234abcd12ab34cd56ef1234567890ab",
			want: Locator{Kind: KindSSM, Partition: "aws", Region: "us-east-1", Account: "123456789012", ParameterName: "/n", KMSKey: "mrk-1234abcd12ab34cd56ef1234567890ab"},
		},
		{
			in:   "arn:aws:ssm:us-east-1:123456789012:parameter/n?kmsKey=arn:aws:kms:us-east-1:210987654321:key/1234abcd-12ab-34cd-56ef-1234567890ab",
			want: Locator{Kind: KindSSM, Partition: "aws", Region: "us-east-1", Account: "123456789012", ParameterName: "/n", KMSKey: "arn:aws:kms:us-east-1:210987654321:key/1234abcd-12ab-34cd-56ef-1234567890ab"},
		},
		{
			in:   "arn:aws:ssm:us-east-1:123456789012:parameter/n?kmsKey=arn:aws:kms:us-east-1:123456789012:alias/ts/prod",
			want: Locator{Kind: KindSSM, Partition: "aws", Region: "us-east-1", Account: "123456789012", ParameterName: "/n", KMSKey: "arn:aws:kms:us-east-1:123456789012:alias/ts/prod"},
		},
		{
			// URL-escaped option values are decoded.
			in:   "arn:aws:ssm:us-east-1:123456789012:parameter/n?kmsKey=alias%2Fts-prod",
			want: Locator{Kind: KindSSM, Partition: "aws", Region: "us-east-1", Account: "123456789012", ParameterName: "/n", KMSKey: "alias/ts-prod"},
			str:  "arn:aws:ssm:us-east-1:123456789012:parameter/n?kmsKey=alias/ts-prod",
		},
		{
			// An empty kmsKey means none.
			in:   "arn:aws:ssm:us-east-1:123456789012:parameter/n?kmsKey=",
			want: Locator{Kind: KindSSM, Partition: "aws", Region: "us-east-1", Account: "123456789012", ParameterName: "/n"},
			str:  "arn:aws:ssm:us-east-1:123456789012:parameter/n",
		},
		{
			in:   "arn:aws:ssm:us-east-1:123456789012:parameter/n?kmsKey=k&tier=advanced",
			want: Locator{Kind: KindSSM, Partition: "aws", Region: "us-east-1", Account: "123456789012", ParameterName: "/n", KMSKey: "alias/k", Advanced: true},
			str:  "arn:aws:ssm:us-east-1:123456789012:parameter/n?kmsKey=alias/k&tier=advanced",
		},
		{
			in:   "arn:aws:ssm:us-east-1:123456789012:parameter/n?tier=Standard",
			want: Locator{Kind: KindSSM, Partition: "aws", Region: "us-east-1", Account: "123456789012", ParameterName: "/n"},
			str:  "arn:aws:ssm:us-east-1:123456789012:parameter/n",
		},
		{
			in:   "arn:aws-cn:ssm:cn-north-1:123456789012:parameter/a.b_c-d?kmsKey=arn:aws-cn:kms:cn-north-1:123456789012:alias/x",
			want: Locator{Kind: KindSSM, Partition: "aws-cn", Region: "cn-north-1", Account: "123456789012", ParameterName: "/a.b_c-d", KMSKey: "arn:aws-cn:kms:cn-north-1:123456789012:alias/x"},
			arn:  "arn:aws-cn:ssm:cn-north-1:123456789012:parameter/a.b_c-d",
		},
		{
			in:   "arn:aws-us-gov:ssm:us-gov-west-1:123456789012:parameter/" + levels(15),
			want: Locator{Kind: KindSSM, Partition: "aws-us-gov", Region: "us-gov-west-1", Account: "123456789012", ParameterName: "/" + levels(15)},
		},
		{in: "mem:", want: Locator{Kind: KindMem}},
		{in: "mem:test-1", want: Locator{Kind: KindMem, MemName: "test-1"}},
		{in: "/var/lib/tailscale/tailscaled.state", want: Locator{Kind: KindFile, Path: "/var/lib/tailscale/tailscaled.state"}},
		{in: "state.json", want: Locator{Kind: KindFile, Path: "state.json"}},
		{in: "./arn:x", want: Locator{Kind: KindFile, Path: "./arn:x"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got != tt.want {
				t.Fatalf("Parse =\n %+v\nwant\n %+v", got, tt.want)
			}
			if tt.arn != "" && got.ParameterARN() != tt.arn {
				t.Errorf("ParameterARN = %q, want %q", got.ParameterARN(), tt.arn)
			}
			wantStr := tt.str
			if wantStr == "" {
				wantStr = tt.in
			}
			if got.String() != wantStr {
				t.Errorf("String = %q, want %q", got.String(), wantStr)
			}
			again, err := Parse(got.String())
			if err != nil || again != got {
				t.Errorf("Parse(String()) = %+v, %v; want %+v", again, err, got)
			}
		})
	}
}

func levels(n int) string {
	s := make([]string, n)
	for i := range s {
		s[i] = "l"
	}
	return strings.Join(s, "/")
}

func TestParseInvalid(t *testing.T) {
	const p = "arn:aws:ssm:us-east-1:123456789012:parameter/n"
	tests := []struct {
		in      string
		problem string // substring of the error
	}{
		{"", "empty locator"},
		{"arn:aws:ssm:us-east-1", "six ':'-separated sections"},
		{"arn:aws:s3:us-east-1:123456789012:parameter/n", `service is "s3"`},
		{"arn:aws:secretsmanager:us-east-1:123456789012:secret:n", `service is "secretsmanager"`},
		{"arn:aws:ssm:us-east-1:123456789012:document/n", "not a parameter"},
		{"arn:aws:ssm:us-east-1:123456789012:parameter", "not a parameter"},
		{"arn:aws:ssm:us-east-1:123456789012:parameter/", "empty parameter name"},
		{"arn:aws:ssm::123456789012:parameter/n", "missing Region"},
		{"arn:aws:ssm:us-east-1::parameter/n", "missing account"},
		{"arn:aws:ssm:us-east-1:12345:parameter/n", "not 12 digits"},
		{"arn:aws:ssm:us-east-1:12345678901a:parameter/n", "not 12 digits"},
		{"arn:aws:ssm:US_EAST:123456789012:parameter/n", "not a Region name"},
		{"arn:aws:ssm:cn-north-1:123456789012:parameter/n", `in partition "aws-cn"`},
		{"arn:aws-cn:ssm:us-east-1:123456789012:parameter/n", `in partition "aws"`},
		{"arn:azure:ssm:us-east-1:123456789012:parameter/n", "unknown partition"},
		{"arn:aws:ssm:us-east-1:123456789012:parameter/a b", "characters other than"},
		{"arn:aws:ssm:us-east-1:123456789012:parameter/a:b", "characters other than"},
		{"arn:aws:ssm:us-east-1:123456789012:parameter/a//b", "empty level"},
		{"arn:aws:ssm:us-east-1:123456789012:parameter/a/", "empty level"},
		{"arn:aws:ssm:us-east-1:123456789012:parameter/" + levels(16), "16 levels"},
		{"arn:aws:ssm:us-east-1:123456789012:parameter/aws-node", `begins with "aws" or "ssm"`},
		{"arn:aws:ssm:us-east-1:123456789012:parameter/AWS/x", `begins with "aws" or "ssm"`},
		{"arn:aws:ssm:us-east-1:123456789012:parameter/ssm/x", `begins with "aws" or "ssm"`},
		{"arn:aws:ssm:us-east-1:123456789012:parameter/" + strings.Repeat("x", 1000), "more than SSM's 1011"},
		{p + "?kmsKey=a&kmsKey=b", `option "kmsKey" is given 2 times`},
		{p + "?tier=advanced&tier=advanced", `option "tier" is given 2 times`},
		{p + "?region=us-east-1", `unknown option "region"`},
		{p + "?tier=intelligent", "neither standard nor advanced"},
		{p + "?kmsKey=%zz", "do not parse as a URL query"},
		{p + "?kmsKey=alias/", "alias name is empty"},
		{p + "?kmsKey=alias/a b", "alias name is empty"},
		{p + "?kmsKey=key/1234", "neither alias/NAME nor an ARN"},
		{p + "?kmsKey=a.b", "characters other than"},
		{p + "?kmsKey=arn:aws:ssm:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", `service "ssm", not "kms"`},
		{p + "?kmsKey=arn:aws-cn:kms:us-east-1:123456789012:alias/x", `partition "aws-cn" but the parameter is in "aws"`},
		{p + "?kmsKey=arn:aws:kms:eu-west-1:123456789012:alias/x", `Region "eu-west-1"`},
		{p + "?kmsKey=arn:aws:kms:us-east-1:1234:alias/x", "not 12 digits"},
		{p + "?kmsKey=arn:aws:kms:us-east-1:123456789012:key/not-a-uuid", "neither a UUID"},
		{p + "?kmsKey=arn:aws:kms:us-east-1:123456789012:alias/", "neither key/<id> nor alias/NAME"},
		{p + "?kmsKey=arn:aws:kms:us-east-1", "six ':'-separated sections"},
		{"mem:a b", "in-memory state name"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse = %+v, want error containing %q", got, tt.problem)
			}
			var le *Error
			if !errors.As(err, &le) {
				t.Fatalf("error %T is not *Error", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.problem) {
				t.Errorf("error %q does not say %q", msg, tt.problem)
			}
			if !strings.Contains(msg, `"`+tt.in+`"`) && !strings.Contains(msg, le.Locator) {
				t.Errorf("error %q does not quote the locator", msg)
			}
			if le.Locator != tt.in {
				t.Errorf("Error.Locator = %q, want %q", le.Locator, tt.in)
			}
			if !strings.Contains(msg, "; want ") || le.Want == "" {
				t.Errorf("error %q does not say what a right locator looks like", msg)
			}
		})
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{KindFile: "file", KindMem: "mem", KindSSM: "ssm", 0: "Kind(0)"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", int(k), got, want)
		}
	}
}

func TestParameterARNNotSSM(t *testing.T) {
	l, err := Parse("mem:x")
	if err != nil {
		t.Fatal(err)
	}
	if got := l.ParameterARN(); got != "" {
		t.Errorf("ParameterARN of mem locator = %q, want empty", got)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("arn:aws:ssm:us-east-1:123456789012:parameter/ts/node1?kmsKey=alias/ts-prod")
	f.Add("mem:x")
	f.Add("state.json")
	f.Fuzz(func(t *testing.T, s string) {
		l, err := Parse(s)
		if err != nil {
			var le *Error
			if !errors.As(err, &le) || le.Locator != s {
				t.Fatalf("Parse(%q) error %v is not an *Error quoting the locator", s, err)
			}
			return
		}
		out := l.String()
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse(%q) = %+v; its String %q does not parse: %v", s, l, out, err)
		}
		if again != l {
			t.Fatalf("Parse(%q) = %+v; Parse(String()=%q) = %+v", s, l, out, again)
		}
		if again.String() != out {
			t.Fatalf("String not stable: %q then %q", out, again.String())
		}
	})
}
