package emulator_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
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
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
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
		Retryer: emulator.ClosedConnRetryer,
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
	_, err = c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/badkey"), Value: aws.String("v"), Type: types.ParameterTypeSecureString, KeyId: aws.String("alias/has space")})
	wantErr[types.ValidationException](t, err, "1 validation error detected: Value 'alias/has space' at 'keyId' failed to satisfy constraint: Member must satisfy regular expression pattern: ^([a-zA-Z0-9:/_-]+)$")
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
// Bursts repeat until one collides; most runs need one or a few.
func TestSSMTooManyUpdates(t *testing.T) {
	srv := startSSM(t)
	c := ssmClient(srv, ssmRegion)
	ctx := testCtx(t)
	// SecureString puts hold the parameter while KMS encrypts, which
	// widens the window in which puts overlap.
	big := strings.Repeat("v", 8000)
	mustPut(t, c, &ssm.PutParameterInput{Name: aws.String("/busy"), Value: aws.String(big), Type: types.ParameterTypeSecureString, Tier: types.ParameterTierAdvanced})
	succeeded, collided := 1, 0
	for round := 0; round < 200 && collided == 0; round++ {
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
				out, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/busy"), Value: aws.String(big[:7000+i]), Overwrite: aws.Bool(true)})
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
		t.Fatal("200 bursts of 16 concurrent puts never collided")
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

func kmsClient(srv *emulator.Server, region string) *kms.Client {
	return kms.NewFromConfig(awsConfig(srv, region))
}

// createKey makes a symmetric customer key and returns its metadata.
func createKey(t *testing.T, k *kms.Client, alias string) *kmstypes.KeyMetadata {
	t.Helper()
	out, err := k.CreateKey(testCtx(t), &kms.CreateKeyInput{Description: aws.String("ssm test key")})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	if alias != "" {
		if _, err := k.CreateAlias(testCtx(t), &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: out.KeyMetadata.KeyId}); err != nil {
			t.Fatalf("CreateAlias: %v", err)
		}
	}
	return out.KeyMetadata
}

// wantKMSFailure asserts an SSM error code whose message wraps the KMS
// error code kmsCode in the AWS SDK for Java's format.
func wantKMSFailure(t *testing.T, err error, code, kmsMessage, kmsCode string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error = %v, want %s", err, code)
	}
	want := kmsMessage + " (Service: AWSKMS; Status Code: 400; Error Code: " + kmsCode + "; Request ID: "
	if ae.ErrorCode() != code || !strings.HasPrefix(ae.ErrorMessage(), want) || !strings.HasSuffix(ae.ErrorMessage(), "; Proxy: null)") {
		t.Fatalf("error = %s: %q, want %s: %q…; Proxy: null)", ae.ErrorCode(), ae.ErrorMessage(), code, want)
	}
}

const secret = "hunter2-correct-horse-battery"

func TestSSMSecureStringCustomerKey(t *testing.T) {
	srv := startSSM(t)
	c, k := ssmClient(srv, ssmRegion), kmsClient(srv, ssmRegion)
	ctx := testCtx(t)
	key := createKey(t, k, "alias/ts-prod")

	mustPut(t, c, &ssm.PutParameterInput{Name: aws.String("/sec/a"), Value: aws.String(secret), Type: types.ParameterTypeSecureString, KeyId: aws.String("alias/ts-prod")})
	arn := "arn:aws:ssm:us-east-1:000000000000:parameter/sec/a"

	// Without WithDecryption: base64 of the KMS ciphertext, which KMS
	// decrypts under the PARAMETER_ARN encryption context.
	p := mustGet(t, c, "/sec/a", false)
	if p.Type != types.ParameterTypeSecureString || strings.Contains(aws.ToString(p.Value), secret) {
		t.Fatalf("GetParameter without decryption = %+v", p)
	}
	blob, err := base64.StdEncoding.DecodeString(aws.ToString(p.Value))
	if err != nil {
		t.Fatalf("ciphertext is not base64: %v", err)
	}
	dec, err := k.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob, EncryptionContext: map[string]string{"PARAMETER_ARN": arn}})
	if err != nil {
		t.Fatalf("kms Decrypt of the parameter's ciphertext: %v", err)
	}
	if string(dec.Plaintext) != secret || aws.ToString(dec.KeyId) != aws.ToString(key.Arn) {
		t.Fatalf("kms Decrypt = key %s, want %s and the value", aws.ToString(dec.KeyId), aws.ToString(key.Arn))
	}
	_, err = k.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob, EncryptionContext: map[string]string{"PARAMETER_ARN": arn + "x"}})
	var bad *kmstypes.InvalidCiphertextException
	if !errors.As(err, &bad) {
		t.Fatalf("kms Decrypt with another context = %v, want InvalidCiphertextException", err)
	}

	// With WithDecryption: the value, through every read operation.
	if v := aws.ToString(mustGet(t, c, "/sec/a", true).Value); v != secret {
		t.Fatalf("GetParameter WithDecryption = %q", v)
	}
	gp, err := c.GetParameters(ctx, &ssm.GetParametersInput{Names: []string{"/sec/a"}, WithDecryption: aws.Bool(true)})
	if err != nil || aws.ToString(gp.Parameters[0].Value) != secret {
		t.Fatalf("GetParameters WithDecryption = %+v, %v", gp, err)
	}
	bp, err := c.GetParametersByPath(ctx, &ssm.GetParametersByPathInput{Path: aws.String("/sec"), WithDecryption: aws.Bool(true)})
	if err != nil || len(bp.Parameters) != 1 || aws.ToString(bp.Parameters[0].Value) != secret {
		t.Fatalf("GetParametersByPath WithDecryption = %+v, %v", bp, err)
	}
	h, err := c.GetParameterHistory(ctx, &ssm.GetParameterHistoryInput{Name: aws.String("/sec/a"), WithDecryption: aws.Bool(true)})
	if err != nil || aws.ToString(h.Parameters[0].Value) != secret || aws.ToString(h.Parameters[0].KeyId) != "alias/ts-prod" {
		t.Fatalf("GetParameterHistory WithDecryption = %+v, %v", h, err)
	}
	h, err = c.GetParameterHistory(ctx, &ssm.GetParameterHistoryInput{Name: aws.String("/sec/a")})
	if err != nil || aws.ToString(h.Parameters[0].Value) == secret {
		t.Fatalf("GetParameterHistory without decryption shows the value: %v", err)
	}

	// KeyId as key id, key ARN and alias ARN; DescribeParameters shows it as given.
	refs := map[string]string{
		"/sec/byid":       aws.ToString(key.KeyId),
		"/sec/byarn":      aws.ToString(key.Arn),
		"/sec/byaliasarn": "arn:aws:kms:us-east-1:000000000000:alias/ts-prod",
	}
	for name, ref := range refs {
		mustPut(t, c, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(secret), Type: types.ParameterTypeSecureString, KeyId: aws.String(ref)})
		if v := aws.ToString(mustGet(t, c, name, true).Value); v != secret {
			t.Fatalf("%s (KeyId %s) decrypts to %q", name, ref, v)
		}
	}
	mustPut(t, c, &ssm.PutParameterInput{Name: aws.String("/sec/default"), Value: aws.String(secret), Type: types.ParameterTypeSecureString})
	refs["/sec/a"] = "alias/ts-prod"
	refs["/sec/default"] = "alias/aws/ssm"
	d, err := c.DescribeParameters(ctx, &ssm.DescribeParametersInput{ParameterFilters: []types.ParameterStringFilter{{Key: aws.String("Path"), Values: []string{"/sec"}}}, MaxResults: aws.Int32(50)})
	if err != nil || len(d.Parameters) != len(refs) {
		t.Fatalf("DescribeParameters = %+v, %v", d, err)
	}
	for _, m := range d.Parameters {
		if aws.ToString(m.KeyId) != refs[aws.ToString(m.Name)] || m.Type != types.ParameterTypeSecureString {
			t.Errorf("%s KeyId = %q, want %q", aws.ToString(m.Name), aws.ToString(m.KeyId), refs[aws.ToString(m.Name)])
		}
	}
	// The AWS managed key was made on first use.
	dk, err := k.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/aws/ssm")})
	if err != nil || dk.KeyMetadata.KeyManager != kmstypes.KeyManagerTypeAws {
		t.Fatalf("DescribeKey alias/aws/ssm = %+v, %v", dk, err)
	}

	// Advanced: envelope encryption with a data key; 6,000 characters.
	big := strings.Repeat(secret, 6000/len(secret)+1)[:6000]
	out := mustPut(t, c, &ssm.PutParameterInput{Name: aws.String("/sec/big"), Value: aws.String(big), Type: types.ParameterTypeSecureString, KeyId: aws.String("alias/ts-prod"), Tier: types.ParameterTierIntelligentTiering})
	if out.Tier != types.ParameterTierAdvanced {
		t.Fatalf("tier = %s, want Advanced", out.Tier)
	}
	if v := aws.ToString(mustGet(t, c, "/sec/big", false).Value); strings.Contains(v, secret) {
		t.Fatal("Advanced ciphertext shows the value")
	}
	if v := aws.ToString(mustGet(t, c, "/sec/big", true).Value); v != big {
		t.Fatalf("Advanced value decrypts to %d characters, want the 6000 put", len(v))
	}
}

func TestSSMSecureStringKeyFailures(t *testing.T) {
	srv := startSSM(t)
	c, k := ssmClient(srv, ssmRegion), kmsClient(srv, ssmRegion)
	ctx := testCtx(t)
	put := func(name, keyRef string) error {
		_, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(secret), Type: types.ParameterTypeSecureString, KeyId: aws.String(keyRef), Overwrite: aws.Bool(true)})
		return err
	}
	getDecrypted := func(name string) error {
		_, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(true)})
		return err
	}

	// A key that does not exist: InvalidKeyId on put.
	missing := "arn:aws:kms:us-east-1:000000000000:key/11111111-2222-3333-4444-555555555555"
	wantKMSFailure(t, put("/f/missing", missing), "InvalidKeyId", "Key '"+missing+"' does not exist", "NotFoundException")
	wantKMSFailure(t, put("/f/missing", "alias/does-not-exist"), "InvalidKeyId", "Alias arn:aws:kms:us-east-1:000000000000:alias/does-not-exist is not found.", "NotFoundException")
	var ik *types.InvalidKeyId
	if !errors.As(put("/f/missing", "alias/does-not-exist"), &ik) {
		t.Fatal("missing key is not *types.InvalidKeyId")
	}
	_, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/f/missing")})
	wantErr[types.ParameterNotFound](t, err, "")

	// A key disabled after the put: the ciphertext still reads, the value does not.
	key := createKey(t, k, "alias/to-disable")
	if err := put("/f/disabled", "alias/to-disable"); err != nil {
		t.Fatal(err)
	}
	if _, err := k.DisableKey(ctx, &kms.DisableKeyInput{KeyId: key.KeyId}); err != nil {
		t.Fatal(err)
	}
	mustGet(t, c, "/f/disabled", false)
	wantKMSFailure(t, getDecrypted("/f/disabled"), "InvalidKeyId", aws.ToString(key.Arn)+" is disabled.", "DisabledException")
	wantKMSFailure(t, put("/f/disabled", "alias/to-disable"), "InvalidKeyId", aws.ToString(key.Arn)+" is disabled.", "DisabledException")
	_, err = c.GetParameters(ctx, &ssm.GetParametersInput{Names: []string{"/f/disabled"}, WithDecryption: aws.Bool(true)})
	wantKMSFailure(t, err, "InvalidKeyId", aws.ToString(key.Arn)+" is disabled.", "DisabledException")

	// A key pending deletion.
	key2 := createKey(t, k, "alias/to-delete")
	if err := put("/f/deleting", "alias/to-delete"); err != nil {
		t.Fatal(err)
	}
	if _, err := k.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: key2.KeyId, PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	wantKMSFailure(t, getDecrypted("/f/deleting"), "InvalidKeyId", aws.ToString(key2.Arn)+" is pending deletion.", "KMSInvalidStateException")

	// A key that is not a symmetric encryption key.
	asym, err := k.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: kmstypes.KeySpecRsa2048, KeyUsage: kmstypes.KeyUsageTypeEncryptDecrypt})
	if err != nil {
		t.Fatal(err)
	}
	err = put("/f/asym", aws.ToString(asym.KeyMetadata.KeyId))
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidKeyId" || !strings.Contains(ae.ErrorMessage(), "Error Code: InvalidKeyUsageException") {
		t.Fatalf("asymmetric key = %v, want InvalidKeyId wrapping InvalidKeyUsageException", err)
	}

	// A key ARN of another Region is refused by KMS here (its message as in
	// aws-recordings/localstack/kms.snapshot.json).
	west := createKey(t, kmsClient(srv, ssmOtherRegion), "")
	wantKMSFailure(t, put("/f/west", aws.ToString(west.Arn)), "InvalidKeyId", "Invalid arn eu-west-1", "NotFoundException")
}

// TestSSMTypeChange: an overwrite may change String <-> SecureString; each
// version keeps its own type (docs/aws-behaviour.md, "Changing a
// parameter's type").
func TestSSMTypeChange(t *testing.T) {
	srv := startSSM(t)
	c := ssmClient(srv, ssmRegion)
	ctx := testCtx(t)
	mustPut(t, c, &ssm.PutParameterInput{Name: aws.String("/tc/p"), Value: aws.String("plain"), Type: types.ParameterTypeString})
	if v := mustPut(t, c, &ssm.PutParameterInput{Name: aws.String("/tc/p"), Value: aws.String(secret), Type: types.ParameterTypeSecureString, Overwrite: aws.Bool(true)}).Version; v != 2 {
		t.Fatalf("String -> SecureString version = %d", v)
	}
	p := mustGet(t, c, "/tc/p", false)
	if p.Type != types.ParameterTypeSecureString || aws.ToString(p.Value) == secret {
		t.Fatalf("after String -> SecureString = %+v", p)
	}
	// Omitting Type keeps SecureString.
	mustPut(t, c, &ssm.PutParameterInput{Name: aws.String("/tc/p"), Value: aws.String(secret + "3"), Overwrite: aws.Bool(true)})
	if p := mustGet(t, c, "/tc/p", true); p.Type != types.ParameterTypeSecureString || aws.ToString(p.Value) != secret+"3" {
		t.Fatalf("after untyped overwrite = %+v", p)
	}
	mustPut(t, c, &ssm.PutParameterInput{Name: aws.String("/tc/p"), Value: aws.String("plain again"), Type: types.ParameterTypeString, Overwrite: aws.Bool(true)})
	h, err := c.GetParameterHistory(ctx, &ssm.GetParameterHistoryInput{Name: aws.String("/tc/p")})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range h.Parameters {
		got = append(got, string(v.Type))
	}
	if strings.Join(got, ",") != "String,SecureString,SecureString,String" || aws.ToString(h.Parameters[3].Value) != "plain again" || aws.ToString(h.Parameters[0].Value) != "plain" {
		t.Fatalf("history types = %v", got)
	}
}

// TestSSMSecureStringAtRest writes SecureStrings to a data directory, checks
// that no file in it holds a value, and reads them back after a restart.
func TestSSMSecureStringAtRest(t *testing.T) {
	dir := t.TempDir()
	srv, err := emulator.Start(emulator.WithDataDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	c, k := ssmClient(srv, ssmRegion), kmsClient(srv, ssmRegion)
	createKey(t, k, "alias/ts-prod")
	values := map[string]string{
		"/rest/standard": "standard-" + secret,
		"/rest/default":  "default-" + secret,
		"/rest/advanced": "advanced-" + strings.Repeat("Zq9", 1700),
	}
	mustPut(t, c, &ssm.PutParameterInput{Name: aws.String("/rest/standard"), Value: aws.String("old-" + secret), Type: types.ParameterTypeSecureString, KeyId: aws.String("alias/ts-prod")})
	mustPut(t, c, &ssm.PutParameterInput{Name: aws.String("/rest/standard"), Value: aws.String(values["/rest/standard"]), Type: types.ParameterTypeSecureString, KeyId: aws.String("alias/ts-prod"), Overwrite: aws.Bool(true)})
	mustPut(t, c, &ssm.PutParameterInput{Name: aws.String("/rest/default"), Value: aws.String(values["/rest/default"]), Type: types.ParameterTypeSecureString})
	mustPut(t, c, &ssm.PutParameterInput{Name: aws.String("/rest/advanced"), Value: aws.String(values["/rest/advanced"]), Type: types.ParameterTypeSecureString, KeyId: aws.String("alias/ts-prod"), Tier: types.ParameterTierAdvanced})
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}

	for _, v := range append([]string{"old-" + secret, secret}, values["/rest/standard"], values["/rest/default"], values["/rest/advanced"]) {
		if hits := scanFor(t, dir, []byte(v)); len(hits) > 0 {
			t.Fatalf("a SecureString value is stored in plaintext in %v", hits)
		}
	}

	srv = startSSM(t, emulator.WithDataDir(dir))
	c = ssmClient(srv, ssmRegion)
	for name, want := range values {
		if got := aws.ToString(mustGet(t, c, name, true).Value); got != want {
			t.Fatalf("%s after restart = %d characters, want the value put", name, len(got))
		}
	}
	if got := aws.ToString(mustGet(t, c, "/rest/standard:1", true).Value); got != "old-"+secret {
		t.Fatal("version 1 after restart does not decrypt to its value")
	}
}

// TestSSMSecureStringAccessDenied: a caller allowed ssm:GetParameter but not
// kms:Decrypt on a customer key reads the ciphertext but not the value; SSM
// answers AccessDeniedException with the KMS error inside.
func TestSSMSecureStringAccessDenied(t *testing.T) {
	const account = "123456789012"
	allow := func(actions ...string) json.RawMessage {
		b, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{"Effect": "Allow", "Action": actions, "Resource": "*"}}})
		return b
	}
	srv := startSSM(t, emulator.WithIAMConfig(emulator.IAMConfig{Account: account, Principals: []emulator.IAMPrincipal{
		{ARN: "arn:aws:iam::" + account + ":user/admin", AccessKeyID: "AKIAADMIN0000000001", SecretAccessKey: "admin-secret", Policies: []json.RawMessage{allow("*")}},
		{ARN: "arn:aws:iam::" + account + ":user/reader", AccessKeyID: "AKIAREADER000000001", SecretAccessKey: "reader-secret", Policies: []json.RawMessage{allow("ssm:GetParameter")}},
	}}))
	as := func(key, secret string) aws.Config {
		cfg := awsConfig(srv, ssmRegion)
		cfg.Credentials = credentials.NewStaticCredentialsProvider(key, secret, "")
		return cfg
	}
	admin, reader := as("AKIAADMIN0000000001", "admin-secret"), as("AKIAREADER000000001", "reader-secret")
	createKey(t, kms.NewFromConfig(admin), "alias/ts-prod")
	mustPut(t, ssm.NewFromConfig(admin), &ssm.PutParameterInput{Name: aws.String("/acl/p"), Value: aws.String(secret), Type: types.ParameterTypeSecureString, KeyId: aws.String("alias/ts-prod")})

	rc := ssm.NewFromConfig(reader)
	if v := aws.ToString(mustGet(t, rc, "/acl/p", false).Value); v == secret || v == "" {
		t.Fatalf("reader without decryption got %q", v)
	}
	_, err := rc.GetParameter(testCtx(t), &ssm.GetParameterInput{Name: aws.String("/acl/p"), WithDecryption: aws.Bool(true)})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDeniedException" ||
		!strings.Contains(ae.ErrorMessage(), "(Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException; Request ID: ") ||
		strings.Contains(ae.ErrorMessage(), secret) {
		t.Fatalf("reader WithDecryption = %v, want AccessDeniedException wrapping the KMS denial", err)
	}
	t.Logf("denied as: %s: %s", ae.ErrorCode(), ae.ErrorMessage())
}
