package emulator_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"

	"github.com/ssmstate/ssmstate/emulator"
)

// Conformance tests of the SSM Parameter Store service, driven by the
// aws-sdk-go-v2 ssm client over HTTP. Messages are the ones AWS sends; their
// sources are in docs/aws-behaviour.md.

const (
	ssmRegion      = "us-east-1"
	ssmOtherRegion = "eu-west-1"
)

func startSSM(t *testing.T, opts ...emulator.Option) *emulator.Server {
	t.Helper()
	srv, err := emulator.Start(opts...)
	if err != nil {
		t.Fatalf("start the local endpoint: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func awsConfig(srv *emulator.Server, region string) aws.Config {
	return aws.Config{
		Region:       region,
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		// Errors are asserted as the endpoint sends them, not retried.
		RetryMaxAttempts: 1,
	}
}

func ssmClient(srv *emulator.Server, region string) *ssm.Client {
	return ssm.NewFromConfig(awsConfig(srv, region))
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// wantErr asserts that err is the SDK's typed error E with the message msg.
func wantErr[E any, P interface {
	*E
	smithy.APIError
}](t *testing.T, err error, msg string) {
	t.Helper()
	var target P
	if !errors.As(err, &target) {
		t.Fatalf("error = %v, want %T", err, target)
	}
	if got := target.ErrorMessage(); got != msg {
		t.Fatalf("%s message = %q, want %q", target.ErrorCode(), got, msg)
	}
}

// wantCode asserts the error code (for codes the SDK has no type for) and
// that the message starts with prefix.
func wantCode(t *testing.T, err error, code, prefix string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error = %v, want API error %s", err, code)
	}
	if ae.ErrorCode() != code || !strings.HasPrefix(ae.ErrorMessage(), prefix) {
		t.Fatalf("error = %s: %q, want %s: %q…", ae.ErrorCode(), ae.ErrorMessage(), code, prefix)
	}
}

func mustPut(t *testing.T, c *ssm.Client, in *ssm.PutParameterInput) *ssm.PutParameterOutput {
	t.Helper()
	out, err := c.PutParameter(testCtx(t), in)
	if err != nil {
		t.Fatalf("PutParameter %s: %v", aws.ToString(in.Name), err)
	}
	return out
}

func mustGet(t *testing.T, c *ssm.Client, name string, decrypt bool) *types.Parameter {
	t.Helper()
	out, err := c.GetParameter(testCtx(t), &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(decrypt)})
	if err != nil {
		t.Fatalf("GetParameter %s: %v", name, err)
	}
	return out.Parameter
}

const (
	msgAlreadyExists   = "The parameter already exists. To overwrite this request value, set the overwrite option in the request to true."
	msgNameRules       = `Parameter name: can't be prefixed with "ssm" (case-insensitive). If formed as a path, it can consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, numbers and the following 3 symbols .-_`
	msgStandardTooLong = "Standard tier parameters support a maximum parameter value of 4096 characters. To create a larger parameter value, upgrade the parameter to use the advanced-parameter tier. For more information, see https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html"
	msgAdvancedTooLong = "Advanced tier parameters support a maximum parameter value of 8192 characters."
)

func TestSSMPutGetString(t *testing.T) {
	srv := startSSM(t)
	c := ssmClient(srv, ssmRegion)
	ctx := testCtx(t)
	before := time.Now().Add(-time.Second)

	out := mustPut(t, c, &ssm.PutParameterInput{Name: aws.String("/app/db/host"), Value: aws.String("db.internal"), Type: types.ParameterTypeString, Description: aws.String("database host")})
	if out.Version != 1 || out.Tier != types.ParameterTierStandard {
		t.Fatalf("put = version %d tier %q, want 1 Standard", out.Version, out.Tier)
	}
	p := mustGet(t, c, "/app/db/host", false)
	if aws.ToString(p.Name) != "/app/db/host" || aws.ToString(p.Value) != "db.internal" || p.Type != types.ParameterTypeString ||
		p.Version != 1 || aws.ToString(p.DataType) != "text" || aws.ToString(p.ARN) != "arn:aws:ssm:us-east-1:000000000000:parameter/app/db/host" {
		t.Fatalf("GetParameter = %+v", p)
	}
	if p.LastModifiedDate == nil || p.LastModifiedDate.Before(before) || p.LastModifiedDate.After(time.Now().Add(time.Second)) {
		t.Fatalf("LastModifiedDate = %v, want about now", p.LastModifiedDate)
	}

	mustPut(t, c, &ssm.PutParameterInput{Name: aws.String("hosts"), Value: aws.String("a,b,c"), Type: types.ParameterTypeStringList})
	p = mustGet(t, c, "hosts", false)
	if p.Type != types.ParameterTypeStringList || aws.ToString(p.Value) != "a,b,c" || aws.ToString(p.ARN) != "arn:aws:ssm:us-east-1:000000000000:parameter/hosts" {
		t.Fatalf("StringList = %+v", p)
	}
	// "/hosts" and "hosts" are one root-level parameter.
	if p := mustGet(t, c, "/hosts", false); aws.ToString(p.Value) != "a,b,c" {
		t.Fatalf("/hosts = %q", aws.ToString(p.Value))
	}

	// Without Overwrite: ParameterAlreadyExists; with it: version 2, and
	// the description stays when not given.
	_, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/app/db/host"), Value: aws.String("x"), Type: types.ParameterTypeString})
	wantErr[types.ParameterAlreadyExists](t, err, msgAlreadyExists)
	out = mustPut(t, c, &ssm.PutParameterInput{Name: aws.String("/app/db/host"), Value: aws.String("db2.internal"), Overwrite: aws.Bool(true)})
	if out.Version != 2 {
		t.Fatalf("overwrite version = %d, want 2", out.Version)
	}
	d, err := c.DescribeParameters(ctx, &ssm.DescribeParametersInput{ParameterFilters: []types.ParameterStringFilter{{Key: aws.String("Name"), Values: []string{"/app/db/host"}}}})
	if err != nil || len(d.Parameters) != 1 {
		t.Fatalf("DescribeParameters = %+v, %v", d, err)
	}
	if m := d.Parameters[0]; aws.ToString(m.Description) != "database host" || m.Version != 2 || m.Type != types.ParameterTypeString || m.KeyId != nil ||
		aws.ToString(m.LastModifiedUser) != "arn:aws:iam::000000000000:root" || m.Tier != types.ParameterTierStandard {
		t.Fatalf("metadata = %+v", m)
	}

	// A new parameter needs a type.
	_, err = c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/notype"), Value: aws.String("v")})
	wantErr[types.ValidationException](t, err, "A parameter type is required when you create a parameter.")
	// KeyId only goes with SecureString.
	_, err = c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/withkey"), Value: aws.String("v"), Type: types.ParameterTypeString, KeyId: aws.String("alias/aws/ssm")})
	wantErr[types.ValidationException](t, err, "KeyId is required for SecureString type parameter only.")
	// Tags and Overwrite do not go together.
	_, err = c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/app/db/host"), Value: aws.String("v"), Overwrite: aws.Bool(true), Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
	wantCode(t, err, "ValidationException", "Invalid request: tags and overwrite can't be used together.")
	// AllowedPattern is enforced.
	_, err = c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/port"), Value: aws.String("http"), Type: types.ParameterTypeString, AllowedPattern: aws.String(`^\d+$`)})
	wantErr[types.ParameterPatternMismatchException](t, err, `Parameter value, cannot be validated against allowedPattern: ^\d+$`)
	mustPut(t, c, &ssm.PutParameterInput{Name: aws.String("/port"), Value: aws.String("8080"), Type: types.ParameterTypeString, AllowedPattern: aws.String(`^\d+$`)})
	_, err = c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/port"), Value: aws.String("eighty"), Overwrite: aws.Bool(true)})
	wantErr[types.ParameterPatternMismatchException](t, err, `Parameter value, cannot be validated against allowedPattern: ^\d+$`)
}

// TestSSMParameterNotFoundWire checks the exact bytes AWS sends for a
// missing parameter: HTTP 400 and {"__type":"ParameterNotFound"}, no message.
func TestSSMParameterNotFoundWire(t *testing.T) {
	srv := startSSM(t)
	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(`{"Name":"/nope"}`))
	req.Header.Set("X-Amz-Target", "AmazonSSM.GetParameter")
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/ssm/aws4_request, SignedHeaders=host, Signature=x")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 400 || string(body) != `{"__type":"ParameterNotFound"}` {
		t.Fatalf("response = %d %s, want 400 {\"__type\":\"ParameterNotFound\"}", resp.StatusCode, body)
	}

	c := ssmClient(srv, ssmRegion)
	_, err = c.GetParameter(testCtx(t), &ssm.GetParameterInput{Name: aws.String("/nope")})
	wantErr[types.ParameterNotFound](t, err, "")
	_, err = c.DeleteParameter(testCtx(t), &ssm.DeleteParameterInput{Name: aws.String("/nope")})
	wantErr[types.ParameterNotFound](t, err, "")
	_, err = c.GetParameterHistory(testCtx(t), &ssm.GetParameterHistoryInput{Name: aws.String("/nope")})
	wantErr[types.ParameterNotFound](t, err, "")
	_, err = c.LabelParameterVersion(testCtx(t), &ssm.LabelParameterVersionInput{Name: aws.String("/nope"), Labels: []string{"x"}})
	wantErr[types.ParameterNotFound](t, err, "")
}

func TestSSMSelectorsAndARN(t *testing.T) {
	srv := startSSM(t)
	c := ssmClient(srv, ssmRegion)
	ctx := testCtx(t)
	for i := 1; i <= 3; i++ {
		mustPut(t, c, &ssm.PutParameterInput{Name: aws.String("/sel/p"), Value: aws.String(fmt.Sprintf("v%d", i)), Type: types.ParameterTypeString, Overwrite: aws.Bool(true)})
	}
	if p := mustGet(t, c, "/sel/p:2", false); aws.ToString(p.Value) != "v2" || p.Version != 2 || aws.ToString(p.Selector) != ":2" || aws.ToString(p.Name) != "/sel/p" {
		t.Fatalf("/sel/p:2 = %+v", p)
	}
	if _, err := c.LabelParameterVersion(ctx, &ssm.LabelParameterVersionInput{Name: aws.String("/sel/p"), ParameterVersion: aws.Int64(1), Labels: []string{"prod"}}); err != nil {
		t.Fatal(err)
	}
	if p := mustGet(t, c, "/sel/p:prod", false); aws.ToString(p.Value) != "v1" || aws.ToString(p.Selector) != ":prod" {
		t.Fatalf("/sel/p:prod = %+v", p)
	}
	_, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/sel/p:9")})
	wantErr[types.ParameterVersionNotFound](t, err, "Systems Manager could not find version 9 of /sel/p. Verify the version and try again.")
	_, err = c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/sel/p:nolabel")})
	wantErr[types.ParameterNotFound](t, err, "")

	// By ARN, as in aws-recordings/localstack/ssm.snapshot.json.
	arn := "arn:aws:ssm:us-east-1:000000000000:parameter/sel/p"
	p := mustGet(t, c, arn, false)
	if aws.ToString(p.Name) != "/sel/p" || aws.ToString(p.Value) != "v3" || aws.ToString(p.ARN) != arn {
		t.Fatalf("by ARN = %+v", p)
	}
	mustPut(t, c, &ssm.PutParameterInput{Name: aws.String("flat"), Value: aws.String("f"), Type: types.ParameterTypeString})
	if p := mustGet(t, c, "arn:aws:ssm:us-east-1:000000000000:parameter/flat", false); aws.ToString(p.Name) != "flat" || aws.ToString(p.Value) != "f" {
		t.Fatalf("flat by ARN = %+v", p)
	}
	gp, err := c.GetParameters(ctx, &ssm.GetParametersInput{Names: []string{arn}})
	if err != nil || len(gp.Parameters) != 1 || len(gp.InvalidParameters) != 0 {
		t.Fatalf("GetParameters by ARN = %+v, %v", gp, err)
	}
	// An ARN of another Region names a parameter that is not here.
	_, err = c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("arn:aws:ssm:eu-west-1:000000000000:parameter/sel/p")})
	wantErr[types.ParameterNotFound](t, err, "")
}

func TestSSMRegionsAreIsolated(t *testing.T) {
	srv := startSSM(t)
	east, west := ssmClient(srv, ssmRegion), ssmClient(srv, ssmOtherRegion)
	mustPut(t, east, &ssm.PutParameterInput{Name: aws.String("/iso/p"), Value: aws.String("east"), Type: types.ParameterTypeString})
	_, err := west.GetParameter(testCtx(t), &ssm.GetParameterInput{Name: aws.String("/iso/p")})
	wantErr[types.ParameterNotFound](t, err, "")
	mustPut(t, west, &ssm.PutParameterInput{Name: aws.String("/iso/p"), Value: aws.String("west"), Type: types.ParameterTypeString})
	if v := aws.ToString(mustGet(t, east, "/iso/p", false).Value); v != "east" {
		t.Fatalf("east = %q", v)
	}
	p := mustGet(t, west, "/iso/p", false)
	if aws.ToString(p.Value) != "west" || aws.ToString(p.ARN) != "arn:aws:ssm:eu-west-1:000000000000:parameter/iso/p" || p.Version != 1 {
		t.Fatalf("west = %+v", p)
	}
}

func TestSSMNameRules(t *testing.T) {
	srv := startSSM(t)
	c := ssmClient(srv, ssmRegion)
	ctx := testCtx(t)
	put := func(name string) error {
		_, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String("v"), Type: types.ParameterTypeString})
		return err
	}
	for _, name := range []string{"has space", "/a/b c", "a/b", "/a//b", "/a/b/", "semi;colon", "ssm-thing", "/SSM/x", "/ssm", "Ssmx"} {
		wantErr[types.ValidationException](t, put(name), msgNameRules)
	}
	for _, name := range []string{"awsthing", "/aws/x", "AWS"} {
		wantCode(t, put(name), "AccessDeniedException", "No access to reserved parameter name: "+name+".")
	}
	// Reads apply the character rules too.
	_, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("{test}-test")})
	wantErr[types.ValidationException](t, err, msgNameRules)

	fifteen := strings.Repeat("/l", 15)
	if err := put(fifteen); err != nil {
		t.Fatalf("15 levels: %v", err)
	}
	wantErr[types.HierarchyLevelLimitExceededException](t, put(fifteen+"/l"),
		"A hierarchy can have a maximum of 15 levels. For more information, see Requirements and constraints for parameter names in the AWS Systems Manager User Guide.")
	if err := put("/ok_name-1.x/Y"); err != nil {
		t.Fatalf("valid name: %v", err)
	}
	wantErr[types.ValidationException](t, put("/"+strings.Repeat("n", 1100)), msgNameRules)
}

func TestSSMTiers(t *testing.T) {
	srv := startSSM(t)
	c := ssmClient(srv, ssmRegion)
	ctx := testCtx(t)
	put := func(name string, n int, tier types.ParameterTier) (*ssm.PutParameterOutput, error) {
		return c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(strings.Repeat("x", n)), Type: types.ParameterTypeString, Tier: tier, Overwrite: aws.Bool(true)})
	}
	if out, err := put("/t/std", 4096, ""); err != nil || out.Tier != types.ParameterTierStandard {
		t.Fatalf("4096 standard = %+v, %v", out, err)
	}
	_, err := put("/t/std", 4097, types.ParameterTierStandard)
	wantErr[types.ValidationException](t, err, msgStandardTooLong)
	_, err = put("/t/std2", 4097, "")
	wantErr[types.ValidationException](t, err, msgStandardTooLong)
	// The limit counts characters: 4,096 two-byte characters fit.
	if _, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/t/utf8"), Value: aws.String(strings.Repeat("é", 4096)), Type: types.ParameterTypeString}); err != nil {
		t.Fatalf("4096 characters of 2 bytes: %v", err)
	}

	if out, err := put("/t/adv", 8192, types.ParameterTierAdvanced); err != nil || out.Tier != types.ParameterTierAdvanced {
		t.Fatalf("8192 advanced = %+v, %v", out, err)
	}
	_, err = put("/t/adv", 8193, types.ParameterTierAdvanced)
	wantErr[types.ValidationException](t, err, msgAdvancedTooLong)
	// No way back to Standard; without a tier an Advanced parameter stays Advanced.
	_, err = put("/t/adv", 10, types.ParameterTierStandard)
	wantErr[types.ValidationException](t, err, "This parameter uses the advanced-parameter tier. You can't downgrade a parameter from the advanced-parameter tier to the standard-parameter tier. If necessary, you can delete the advanced parameter and recreate it as a standard parameter.")
	if out, err := put("/t/adv", 10, ""); err != nil || out.Tier != types.ParameterTierAdvanced {
		t.Fatalf("overwrite without tier = %+v, %v", out, err)
	}

	// Intelligent-Tiering: Standard while it fits, Advanced when it must be.
	if out, err := put("/t/it", 100, types.ParameterTierIntelligentTiering); err != nil || out.Tier != types.ParameterTierStandard {
		t.Fatalf("IT small = %+v, %v", out, err)
	}
	if out, err := put("/t/it", 5000, types.ParameterTierIntelligentTiering); err != nil || out.Tier != types.ParameterTierAdvanced {
		t.Fatalf("IT large = %+v, %v", out, err)
	}
	if out, err := put("/t/it", 100, types.ParameterTierIntelligentTiering); err != nil || out.Tier != types.ParameterTierAdvanced {
		t.Fatalf("IT small after Advanced = %+v, %v", out, err)
	}
	_, err = put("/t/it", 8193, types.ParameterTierIntelligentTiering)
	wantErr[types.ValidationException](t, err, msgAdvancedTooLong)
}

func TestSSMGetParameters(t *testing.T) {
	srv := startSSM(t)
	c := ssmClient(srv, ssmRegion)
	ctx := testCtx(t)
	for _, n := range []string{"/g/a", "/g/b"} {
		mustPut(t, c, &ssm.PutParameterInput{Name: aws.String(n), Value: aws.String(n), Type: types.ParameterTypeString})
	}
	out, err := c.GetParameters(ctx, &ssm.GetParametersInput{Names: []string{"/g/b", "/g/missing", "/g/a", "/g/a:7"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range out.Parameters {
		got = append(got, aws.ToString(p.Name)+"="+aws.ToString(p.Value))
	}
	if strings.Join(got, " ") != "/g/b=/g/b /g/a=/g/a" || strings.Join(out.InvalidParameters, " ") != "/g/missing /g/a:7" {
		t.Fatalf("GetParameters = %v invalid %v", got, out.InvalidParameters)
	}
	names := make([]string, 11)
	for i := range names {
		names[i] = fmt.Sprintf("/g/n%d", i)
	}
	_, err = c.GetParameters(ctx, &ssm.GetParametersInput{Names: names})
	wantCode(t, err, "ValidationException", "1 validation error detected: Value '[")
}

func TestSSMGetParametersByPath(t *testing.T) {
	srv := startSSM(t)
	c := ssmClient(srv, ssmRegion)
	ctx := testCtx(t)
	all := []string{"/p/a", "/p/b", "/p/c", "/p/d", "/p/e", "/p/sub/x", "/p/sub/deeper/y", "/pother/z", "/q/a"}
	for _, n := range all {
		typ := types.ParameterTypeString
		if strings.HasSuffix(n, "e") {
			typ = types.ParameterTypeStringList
		}
		mustPut(t, c, &ssm.PutParameterInput{Name: aws.String(n), Value: aws.String("v"), Type: typ})
	}
	collect := func(in *ssm.GetParametersByPathInput) []string {
		t.Helper()
		var names []string
		pages := 0
		p := ssm.NewGetParametersByPathPaginator(c, in)
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if in.MaxResults != nil && len(out.Parameters) > int(*in.MaxResults) {
				t.Fatalf("page of %d > MaxResults %d", len(out.Parameters), *in.MaxResults)
			}
			pages++
			for _, prm := range out.Parameters {
				names = append(names, aws.ToString(prm.Name))
			}
		}
		sort.Strings(names)
		return names
	}
	if got := collect(&ssm.GetParametersByPathInput{Path: aws.String("/p"), MaxResults: aws.Int32(2)}); strings.Join(got, " ") != "/p/a /p/b /p/c /p/d /p/e" {
		t.Fatalf("one level = %v", got)
	}
	if got := collect(&ssm.GetParametersByPathInput{Path: aws.String("/p/"), Recursive: aws.Bool(true), MaxResults: aws.Int32(3)}); strings.Join(got, " ") != "/p/a /p/b /p/c /p/d /p/e /p/sub/deeper/y /p/sub/x" {
		t.Fatalf("recursive = %v", got)
	}
	filtered := collect(&ssm.GetParametersByPathInput{Path: aws.String("/p"), Recursive: aws.Bool(true),
		ParameterFilters: []types.ParameterStringFilter{{Key: aws.String("Type"), Option: aws.String("Equals"), Values: []string{"StringList"}}}})
	if strings.Join(filtered, " ") != "/p/e" {
		t.Fatalf("filtered = %v", filtered)
	}
	_, err := c.GetParametersByPath(ctx, &ssm.GetParametersByPathInput{Path: aws.String("/p"), MaxResults: aws.Int32(11)})
	wantCode(t, err, "ValidationException", "1 validation error detected")
	_, err = c.GetParametersByPath(ctx, &ssm.GetParametersByPathInput{Path: aws.String("/p"), NextToken: aws.String("bogus")})
	wantErr[types.InvalidNextToken](t, err, "The specified token is not valid.")
	_, err = c.GetParametersByPath(ctx, &ssm.GetParametersByPathInput{Path: aws.String("/p"), ParameterFilters: []types.ParameterStringFilter{{Key: aws.String("Name"), Values: []string{"x"}}}})
	// InvalidFilterKey has no message member in the API model: the SDK drops it.
	wantCode(t, err, "InvalidFilterKey", "")
}

func TestSSMDelete(t *testing.T) {
	srv := startSSM(t)
	c := ssmClient(srv, ssmRegion)
	ctx := testCtx(t)
	for _, n := range []string{"/d/a", "/d/b", "/d/c"} {
		mustPut(t, c, &ssm.PutParameterInput{Name: aws.String(n), Value: aws.String("v"), Type: types.ParameterTypeString})
	}
	if _, err := c.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String("/d/a")}); err != nil {
		t.Fatal(err)
	}
	_, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/d/a")})
	wantErr[types.ParameterNotFound](t, err, "")
	out, err := c.DeleteParameters(ctx, &ssm.DeleteParametersInput{Names: []string{"/d/b", "/d/a", "/d/c"}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(out.DeletedParameters, " ") != "/d/b /d/c" || strings.Join(out.InvalidParameters, " ") != "/d/a" {
		t.Fatalf("DeleteParameters = deleted %v invalid %v", out.DeletedParameters, out.InvalidParameters)
	}
	// A deleted parameter starts again at version 1.
	if v := mustPut(t, c, &ssm.PutParameterInput{Name: aws.String("/d/a"), Value: aws.String("v"), Type: types.ParameterTypeString}).Version; v != 1 {
		t.Fatalf("recreated version = %d", v)
	}
}

func TestSSMDescribeParameters(t *testing.T) {
	srv := startSSM(t)
	c := ssmClient(srv, ssmRegion)
	ctx := testCtx(t)
	for _, n := range []string{"/desc/a", "/desc/b", "/desc/sub/c", "/other/d", "root"} {
		mustPut(t, c, &ssm.PutParameterInput{Name: aws.String(n), Value: aws.String("v"), Type: types.ParameterTypeString})
	}
	mustPut(t, c, &ssm.PutParameterInput{Name: aws.String("/desc/adv"), Value: aws.String("v"), Type: types.ParameterTypeString, Tier: types.ParameterTierAdvanced})
	names := func(in *ssm.DescribeParametersInput) []string {
		t.Helper()
		var got []string
		p := ssm.NewDescribeParametersPaginator(c, in)
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range out.Parameters {
				got = append(got, aws.ToString(m.Name))
			}
		}
		sort.Strings(got)
		return strings.Fields(strings.Join(got, " "))
	}
	f := func(key, opt string, vals ...string) []types.ParameterStringFilter {
		sf := types.ParameterStringFilter{Key: aws.String(key), Values: vals}
		if opt != "" {
			sf.Option = aws.String(opt)
		}
		return []types.ParameterStringFilter{sf}
	}
	cases := []struct {
		in   *ssm.DescribeParametersInput
		want string
	}{
		{&ssm.DescribeParametersInput{MaxResults: aws.Int32(2)}, "/desc/a /desc/adv /desc/b /desc/sub/c /other/d root"},
		{&ssm.DescribeParametersInput{ParameterFilters: f("Name", "Equals", "/desc/b")}, "/desc/b"},
		{&ssm.DescribeParametersInput{ParameterFilters: f("Name", "BeginsWith", "/desc/")}, "/desc/a /desc/adv /desc/b /desc/sub/c"},
		{&ssm.DescribeParametersInput{ParameterFilters: f("Path", "OneLevel", "/desc")}, "/desc/a /desc/adv /desc/b"},
		{&ssm.DescribeParametersInput{ParameterFilters: f("Path", "Recursive", "/desc")}, "/desc/a /desc/adv /desc/b /desc/sub/c"},
		{&ssm.DescribeParametersInput{ParameterFilters: f("Tier", "", "Advanced")}, "/desc/adv"},
		{&ssm.DescribeParametersInput{Filters: []types.ParametersFilter{{Key: types.ParametersFilterKeyName, Values: []string{"/other/d"}}}}, "/other/d"},
	}
	for _, tc := range cases {
		if got := strings.Join(names(tc.in), " "); got != tc.want {
			t.Errorf("DescribeParameters(%+v) = %q, want %q", tc.in, got, tc.want)
		}
	}
	_, err := c.DescribeParameters(ctx, &ssm.DescribeParametersInput{ParameterFilters: f("Path", "BeginsWith", "/desc")})
	wantErr[types.InvalidFilterOption](t, err, "The following filter option is not valid: BeginsWith. Valid options include: [Recursive, OneLevel].")
	_, err = c.DescribeParameters(ctx, &ssm.DescribeParametersInput{ParameterFilters: f("Name", "", "/x"), Filters: []types.ParametersFilter{{Key: types.ParametersFilterKeyName, Values: []string{"/x"}}}})
	wantErr[types.ValidationException](t, err, "You can use either Filters or ParameterFilters in a single request.")
}

func TestSSMHistoryAndLabels(t *testing.T) {
	srv := startSSM(t)
	c := ssmClient(srv, ssmRegion)
	ctx := testCtx(t)
	for i := 1; i <= 5; i++ {
		mustPut(t, c, &ssm.PutParameterInput{Name: aws.String("/h/p"), Value: aws.String(fmt.Sprintf("v%d", i)), Type: types.ParameterTypeString, Overwrite: aws.Bool(true), Description: aws.String(fmt.Sprintf("d%d", i))})
	}
	lo, err := c.LabelParameterVersion(ctx, &ssm.LabelParameterVersionInput{Name: aws.String("/h/p"), ParameterVersion: aws.Int64(2), Labels: []string{"blue", "green", "1bad", "awsx", "bad label"}})
	if err != nil {
		t.Fatal(err)
	}
	if lo.ParameterVersion != 2 || strings.Join(lo.InvalidLabels, ",") != "1bad,awsx,bad label" {
		t.Fatalf("LabelParameterVersion = %+v", lo)
	}
	// Without a version the latest is labelled; a label moves between versions.
	lo, err = c.LabelParameterVersion(ctx, &ssm.LabelParameterVersionInput{Name: aws.String("/h/p"), Labels: []string{"blue"}})
	if err != nil || lo.ParameterVersion != 5 {
		t.Fatalf("label latest = %+v, %v", lo, err)
	}
	_, err = c.LabelParameterVersion(ctx, &ssm.LabelParameterVersionInput{Name: aws.String("/h/p"), ParameterVersion: aws.Int64(42), Labels: []string{"x"}})
	wantErr[types.ParameterVersionNotFound](t, err, "Systems Manager could not find version 42 of /h/p. Verify the version and try again.")
	ten := []string{"l0", "l1", "l2", "l3", "l4", "l5", "l6", "l7", "l8", "l9"}
	_, err = c.LabelParameterVersion(ctx, &ssm.LabelParameterVersionInput{Name: aws.String("/h/p"), ParameterVersion: aws.Int64(3), Labels: ten})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.LabelParameterVersion(ctx, &ssm.LabelParameterVersionInput{Name: aws.String("/h/p"), ParameterVersion: aws.Int64(3), Labels: []string{"eleven"}})
	wantErr[types.ParameterVersionLabelLimitExceeded](t, err, "A parameter version can have maximum 10 labels. Move one or more labels to another version and try again.")

	var hist []types.ParameterHistory
	p := ssm.NewGetParameterHistoryPaginator(c, &ssm.GetParameterHistoryInput{Name: aws.String("/h/p"), MaxResults: aws.Int32(2)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		hist = append(hist, out.Parameters...)
	}
	if len(hist) != 5 {
		t.Fatalf("history has %d versions, want 5", len(hist))
	}
	for i, h := range hist {
		if h.Version != int64(i+1) || aws.ToString(h.Value) != fmt.Sprintf("v%d", i+1) || aws.ToString(h.Description) != fmt.Sprintf("d%d", i+1) {
			t.Fatalf("history[%d] = %+v", i, h)
		}
	}
	if strings.Join(hist[1].Labels, ",") != "green" || strings.Join(hist[4].Labels, ",") != "blue" || len(hist[2].Labels) != 10 {
		t.Fatalf("labels = v2 %v v3 %v v5 %v", hist[1].Labels, hist[2].Labels, hist[4].Labels)
	}
}

func TestSSMHundredVersions(t *testing.T) {
	srv := startSSM(t)
	c := ssmClient(srv, ssmRegion)
	ctx := testCtx(t)
	put := func(i int) error {
		_, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/v/p"), Value: aws.String(fmt.Sprint(i)), Type: types.ParameterTypeString, Overwrite: aws.Bool(true)})
		return err
	}
	for i := 1; i <= 101; i++ {
		if err := put(i); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	hist, err := c.GetParameterHistory(ctx, &ssm.GetParameterHistoryInput{Name: aws.String("/v/p"), MaxResults: aws.Int32(50)})
	if err != nil {
		t.Fatal(err)
	}
	if hist.Parameters[0].Version != 2 {
		t.Fatalf("oldest kept = %d, want 2 (version 1 dropped)", hist.Parameters[0].Version)
	}
	_, err = c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/v/p:1")})
	wantErr[types.ParameterVersionNotFound](t, err, "Systems Manager could not find version 1 of /v/p. Verify the version and try again.")
	// A labelled oldest version is never dropped: the put fails.
	if _, err := c.LabelParameterVersion(ctx, &ssm.LabelParameterVersionInput{Name: aws.String("/v/p"), ParameterVersion: aws.Int64(2), Labels: []string{"keep"}}); err != nil {
		t.Fatal(err)
	}
	wantErr[types.ParameterMaxVersionLimitExceeded](t, put(102), "You attempted to create a new version of /v/p by calling the PutParameter API with the overwrite flag. Version 2, the oldest version, can't be deleted because it has a label associated with it. Move the label to another version of the parameter, and try again.")
	if p := mustGet(t, c, "/v/p", false); p.Version != 101 {
		t.Fatalf("latest = %d, want 101", p.Version)
	}
}

// TestSSMTooManyUpdates sends bursts of concurrent puts to one parameter.
// Every put either succeeds with a version of its own or fails with
// TooManyUpdates, and the versions made are exactly the successful puts.
// Bursts repeat until one collides (the first nearly always does).
func TestSSMTooManyUpdates(t *testing.T) {
	srv := startSSM(t)
	c := ssmClient(srv, ssmRegion)
	ctx := testCtx(t)
	mustPut(t, c, &ssm.PutParameterInput{Name: aws.String("/busy"), Value: aws.String("0"), Type: types.ParameterTypeString})
	succeeded, collided := 1, 0
	for round := 0; round < 50 && collided == 0; round++ {
		const n = 16
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, n)
		versions := make([]int64, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				out, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/busy"), Value: aws.String(fmt.Sprint(i)), Overwrite: aws.Bool(true)})
				errs[i] = err
				if err == nil {
					versions[i] = out.Version
				}
			}()
		}
		close(start)
		wg.Wait()
		seen := map[int64]bool{}
		for i, err := range errs {
			if err == nil {
				if seen[versions[i]] {
					t.Fatalf("two puts got version %d", versions[i])
				}
				seen[versions[i]] = true
				succeeded++
				continue
			}
			wantErr[types.TooManyUpdates](t, err, "There are concurrent updates for a resource that supports one update at a time.")
			collided++
		}
	}
	if collided == 0 {
		t.Fatal("50 bursts of 16 concurrent puts never collided")
	}
	if p := mustGet(t, c, "/busy", false); p.Version != int64(succeeded) {
		t.Fatalf("latest version = %d, want %d successful puts", p.Version, succeeded)
	}
}

// scanFor reports the files under dir that contain secret.
func scanFor(t *testing.T, dir string, secret []byte) []string {
	t.Helper()
	var hits []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, secret) {
			hits = append(hits, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

func TestSSMPersistence(t *testing.T) {
	dir := t.TempDir()
	srv, err := emulator.Start(emulator.WithDataDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	c := ssmClient(srv, ssmRegion)
	mustPut(t, c, &ssm.PutParameterInput{Name: aws.String("/keep/a"), Value: aws.String("one"), Type: types.ParameterTypeString})
	mustPut(t, c, &ssm.PutParameterInput{Name: aws.String("/keep/a"), Value: aws.String("two"), Overwrite: aws.Bool(true)})
	mustPut(t, ssmClient(srv, ssmOtherRegion), &ssm.PutParameterInput{Name: aws.String("/keep/a"), Value: aws.String("west"), Type: types.ParameterTypeString})
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	srv = startSSM(t, emulator.WithDataDir(dir))
	c = ssmClient(srv, ssmRegion)
	if p := mustGet(t, c, "/keep/a", false); aws.ToString(p.Value) != "two" || p.Version != 2 {
		t.Fatalf("after restart = %+v", p)
	}
	if p := mustGet(t, c, "/keep/a:1", false); aws.ToString(p.Value) != "one" {
		t.Fatalf("version 1 after restart = %+v", p)
	}
	if p := mustGet(t, ssmClient(srv, ssmOtherRegion), "/keep/a", false); aws.ToString(p.Value) != "west" {
		t.Fatalf("other Region after restart = %+v", p)
	}
}
