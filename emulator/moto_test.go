package emulator_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"

	"github.com/ssmstate/ssmstate/emulator"
	"github.com/ssmstate/ssmstate/internal/mototest"
)

func clientFor(url string) *ssm.Client {
	return ssm.NewFromConfig(aws.Config{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider(emulator.DummyAccessKeyID, emulator.DummySecretAccessKey, ""),
		// No retries of answers; only of net.ErrClosed, a client-side race
		// of Go's HTTP client (aws/aws-sdk-go-v2#2737).
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = 3
				o.RateLimiter = ratelimit.None
				o.Retryables = []retry.IsErrorRetryable{retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
					return aws.BoolTernary(errors.Is(err, net.ErrClosed))
				})}
			})
		},
	})
}

// outcome is the comparable result of one step: an error code, or the
// fields that matter.
func outcome(err error, ok string) string {
	if err == nil {
		return ok
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		if ae.ErrorCode() == "ParameterNotFound" {
			// AWS sends this one with no message at all.
			return fmt.Sprintf("error ParameterNotFound message %q", ae.ErrorMessage())
		}
		return "error " + ae.ErrorCode()
	}
	return "transport error: " + err.Error()
}

type step struct {
	name string
	run  func(ctx context.Context, c *ssm.Client) string
}

func put(name, value string, overwrite bool) func(context.Context, *ssm.Client) string {
	return func(ctx context.Context, c *ssm.Client) string {
		out, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(value), Type: ssmtypes.ParameterTypeString, Overwrite: aws.Bool(overwrite)})
		if err != nil {
			return outcome(err, "")
		}
		return fmt.Sprintf("version %d", out.Version)
	}
}

func get(name string) func(context.Context, *ssm.Client) string {
	return func(ctx context.Context, c *ssm.Client) string {
		out, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name)})
		if err != nil {
			return outcome(err, "")
		}
		p := out.Parameter
		return fmt.Sprintf("name %s value %s version %d type %s selector %q", aws.ToString(p.Name), aws.ToString(p.Value), p.Version, p.Type, aws.ToString(p.Selector))
	}
}

// plainSSMSteps are SSM behaviours moto models: versions, history,
// pagination, name rules, ParameterNotFound and labels.
func plainSSMSteps() []step {
	steps := []step{
		{"put v1", put("/moto/app/a", "one", false)},
		{"put again without overwrite", put("/moto/app/a", "two", false)},
		{"put v2 with overwrite", put("/moto/app/a", "two", true)},
		{"put v3 with overwrite", put("/moto/app/a", "three", true)},
		{"get latest", get("/moto/app/a")},
		{"get :1", get("/moto/app/a:1")},
		{"get :9 (no such version)", get("/moto/app/a:9")},
		{"get without leading slash", get("moto/app/a")},
		{"history", func(ctx context.Context, c *ssm.Client) string {
			out, err := c.GetParameterHistory(ctx, &ssm.GetParameterHistoryInput{Name: aws.String("/moto/app/a")})
			if err != nil {
				return outcome(err, "")
			}
			var s []string
			for _, p := range out.Parameters {
				s = append(s, fmt.Sprintf("%d=%s%v", p.Version, aws.ToString(p.Value), p.Labels))
			}
			return strings.Join(s, " ")
		}},
		{"history of missing", func(ctx context.Context, c *ssm.Client) string {
			_, err := c.GetParameterHistory(ctx, &ssm.GetParameterHistoryInput{Name: aws.String("/moto/missing")})
			return outcome(err, "ok")
		}},
		{"label v1 stable", label("/moto/app/a", 1, "stable")},
		{"get :stable", get("/moto/app/a:stable")},
		{"label v3 stable (moves it)", label("/moto/app/a", 3, "stable")},
		{"get :stable after move", get("/moto/app/a:stable")},
		{"label with invalid labels", label("/moto/app/a", 2, "1starts-with-digit", "awsprefixed", "ok_label")},
		{"history with labels", func(ctx context.Context, c *ssm.Client) string {
			out, err := c.GetParameterHistory(ctx, &ssm.GetParameterHistoryInput{Name: aws.String("/moto/app/a"), MaxResults: aws.Int32(2)})
			if err != nil {
				return outcome(err, "")
			}
			var s []string
			for _, p := range out.Parameters {
				s = append(s, fmt.Sprintf("%d=%s%v", p.Version, aws.ToString(p.Value), p.Labels))
			}
			return fmt.Sprintf("%s next page %v", strings.Join(s, " "), out.NextToken != nil)
		}},
		{"label missing version", label("/moto/app/a", 42, "x")},
		{"get missing", get("/moto/missing")},
		{"label missing parameter", label("/moto/missing", 1, "x")},
		{"get missing after labeling it", get("/moto/missing")},
		{"delete missing", func(ctx context.Context, c *ssm.Client) string {
			_, err := c.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String("/moto/missing")})
			return outcome(err, "ok")
		}},
		{"get-parameters with missing", func(ctx context.Context, c *ssm.Client) string {
			out, err := c.GetParameters(ctx, &ssm.GetParametersInput{Names: []string{"/moto/app/a", "/moto/missing", "/moto/app/a:1"}})
			if err != nil {
				return outcome(err, "")
			}
			var names []string
			for _, p := range out.Parameters {
				names = append(names, fmt.Sprintf("%s@%d", aws.ToString(p.Name), p.Version))
			}
			slices.Sort(names)
			return fmt.Sprintf("found %v invalid %v", names, out.InvalidParameters)
		}},
		{"get-parameters with 11 names", func(ctx context.Context, c *ssm.Client) string {
			names := make([]string, 11)
			for i := range names {
				names[i] = fmt.Sprintf("/moto/n%d", i)
			}
			_, err := c.GetParameters(ctx, &ssm.GetParametersInput{Names: names})
			return outcome(err, "ok")
		}},
		{"name with space", put("/bad/bad name", "x", false)},
		{"name with invalid character", put("/bad/bad#name", "x", false)},
		{"name prefixed aws", put("aws-thing", "x", false)},
		{"name prefixed /ssm", put("/ssm/thing", "x", false)},
		{"name with 15 levels", put("/l1/l2/l3/l4/l5/l6/l7/l8/l9/l10/l11/l12/l13/l14/l15", "x", false)},
		{"name with 16 levels", put("/l1/l2/l3/l4/l5/l6/l7/l8/l9/l10/l11/l12/l13/l14/l15/l16", "x", false)},
		{"name allowed characters", put("/moto/ok_name-1.2/x", "x", false)},
		{"empty value", put("/moto/empty", "", false)},
	}
	for i := range 13 {
		steps = append(steps, step{fmt.Sprintf("put page %d", i), put(fmt.Sprintf("/moto/page/p%02d", i), fmt.Sprint(i), false)})
	}
	steps = append(steps,
		step{"put nested", put("/moto/page/sub/deep", "d", false)},
		step{"by-path non-recursive, pages of 5", byPath("/moto/page", false, 5)},
		step{"by-path recursive, pages of 5", byPath("/moto/page", true, 5)},
		step{"by-path recursive, default page", byPath("/moto", true, 0)},
		step{"by-path MaxResults 11", byPath("/moto/page", true, 11)},
		step{"delete-parameters", func(ctx context.Context, c *ssm.Client) string {
			out, err := c.DeleteParameters(ctx, &ssm.DeleteParametersInput{Names: []string{"/moto/page/p00", "/moto/missing"}})
			if err != nil {
				return outcome(err, "")
			}
			return fmt.Sprintf("deleted %v invalid %v", out.DeletedParameters, out.InvalidParameters)
		}},
		step{"delete v3", func(ctx context.Context, c *ssm.Client) string {
			_, err := c.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String("/moto/app/a")})
			return outcome(err, "ok")
		}},
		step{"get after delete", get("/moto/app/a")},
		step{"put after delete starts at version 1", put("/moto/app/a", "again", false)},
	)
	return steps
}

func label(name string, version int64, labels ...string) func(context.Context, *ssm.Client) string {
	return func(ctx context.Context, c *ssm.Client) string {
		out, err := c.LabelParameterVersion(ctx, &ssm.LabelParameterVersionInput{Name: aws.String(name), ParameterVersion: aws.Int64(version), Labels: labels})
		if err != nil {
			return outcome(err, "")
		}
		return fmt.Sprintf("invalid %v version %d", out.InvalidLabels, out.ParameterVersion)
	}
}

// byPath reads every page and reports the names, and whether any page was
// bigger than asked.
func byPath(path string, recursive bool, maxResults int32) func(context.Context, *ssm.Client) string {
	return func(ctx context.Context, c *ssm.Client) string {
		in := &ssm.GetParametersByPathInput{Path: aws.String(path), Recursive: aws.Bool(recursive)}
		if maxResults > 0 {
			in.MaxResults = aws.Int32(maxResults)
		}
		var names []string
		over := false
		for range 100 {
			out, err := c.GetParametersByPath(ctx, in)
			if err != nil {
				return outcome(err, "")
			}
			if maxResults > 0 && len(out.Parameters) > int(maxResults) || len(out.Parameters) > 10 {
				over = true
			}
			for _, p := range out.Parameters {
				names = append(names, aws.ToString(p.Name))
			}
			if out.NextToken == nil {
				break
			}
			in.NextToken = out.NextToken
		}
		slices.Sort(names)
		return fmt.Sprintf("%d names %v over-page %v", len(names), names, over)
	}
}

// awsDiffers lists the steps where moto answers differently from AWS; see
// docs/moto-differences.md for the sources. For those, the endpoint must
// give AWS's answer, and moto its known one (so that a moto upgrade that
// fixes it is noticed).
var awsDiffers = map[string]struct{ aws, moto string }{
	"get :1":                        {`name /moto/app/a value one version 1 type String selector ":1"`, `name /moto/app/a value one version 1 type String selector ""`},
	"get :stable":                   {`name /moto/app/a value one version 1 type String selector ":stable"`, `name /moto/app/a value one version 1 type String selector ""`},
	"get :stable after move":        {`name /moto/app/a value three version 3 type String selector ":stable"`, `name /moto/app/a value three version 3 type String selector ""`},
	"get without leading slash":     {"error ValidationException", "error ParameterNotFound"},
	"get missing after labeling it": {"error ParameterNotFound", "HTTP 500"},
	"delete missing":                {"error ParameterNotFound", "ok"},
	"name with space":               {"error ValidationException", "version 1"},
	"name with invalid character":   {"error ValidationException", "version 1"},
	"name prefixed aws":             {"error AccessDeniedException", "error ValidationException"},
	"name with 16 levels":           {"error HierarchyLevelLimitExceededException", "version 1"},
}

var (
	notFoundMessage = regexp.MustCompile(`^error ParameterNotFound message "(.*)"$`)
	motoNotFound    = regexp.MustCompile(`^Parameter \S+ not found\.$`)
	http500         = regexp.MustCompile(`StatusCode: 500\b.*`)
)

// normalize strips the ParameterNotFound message, which moto always sends
// and AWS never does (checked separately), and shortens 500s.
func normalize(s string) (string, string) {
	if m := notFoundMessage.FindStringSubmatch(s); m != nil {
		return "error ParameterNotFound", m[1]
	}
	if strings.HasPrefix(s, "transport error") && http500.MatchString(s) {
		return "HTTP 500", ""
	}
	return s, ""
}

func TestSSMAgreesWithMoto(t *testing.T) {
	motoURL := mototest.Start(t)
	srv := emulator.NewTestServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ours, moto := clientFor(srv.URL), clientFor(motoURL)
	for _, s := range plainSSMSteps() {
		got, gotMsg := normalize(s.run(ctx, ours))
		want, wantMsg := normalize(s.run(ctx, moto))
		t.Logf("%s:\n  endpoint %s\n  moto     %s", s.name, got, want)
		if got == "error ParameterNotFound" && gotMsg != "" {
			t.Errorf("%s: ParameterNotFound with message %q; AWS sends none", s.name, gotMsg)
		}
		if want == "error ParameterNotFound" && !motoNotFound.MatchString(wantMsg) {
			t.Errorf("%s: moto's ParameterNotFound message is now %q: update docs/moto-differences.md", s.name, wantMsg)
		}
		if d, ok := awsDiffers[s.name]; ok {
			if got != d.aws {
				t.Errorf("%s: endpoint %q, want AWS's %q", s.name, got, d.aws)
			}
			if want != d.moto {
				t.Errorf("%s: moto now answers %q (was %q): update docs/moto-differences.md", s.name, want, d.moto)
			}
			continue
		}
		if got != want {
			t.Errorf("%s:\n  endpoint %s\n  moto     %s", s.name, got, want)
		}
	}
}
