package emulator

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/ssmstate/ssmstate/emulator/internal/awsapi"
)

// probeTarget is an operation only these tests register, so that the router
// and the realism switches are tested apart from the real services.
const probeTarget = "AmazonSSM.ProbeOperation"

// newProbeServer starts a server with a probe operation that echoes what the
// router handed it.
func newProbeServer(t *testing.T, opts ...Option) *Server {
	t.Helper()
	srv := NewTestServer(t, opts...)
	srv.register("ssm", "AmazonSSM", map[string]awsapi.Handler{
		"ProbeOperation": func(r *awsapi.Request, body []byte) (any, error) {
			var in struct{ Fail string }
			if err := json.Unmarshal(body, &in); err != nil {
				return nil, awsapi.Errorf("SerializationException", "bad body: %v", err)
			}
			if in.Fail != "" {
				return nil, awsapi.Code(in.Fail)
			}
			return map[string]string{"Region": r.Region, "Account": r.Account, "Service": r.Service, "Operation": r.Operation, "AccessKeyID": r.Principal.AccessKeyID}, nil
		},
	})
	return srv
}

// post sends a raw AWS JSON 1.1 request signed only with a credential scope
// for region, as a client's SigV4 header carries it.
func post(t *testing.T, srv *Server, target, region, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest("POST", srv.URL+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
	} else {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if region != "" {
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDPROBE/20260101/"+region+"/ssm/aws4_request, SignedHeaders=host, Signature=00")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", target, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

func TestRoutingByTargetWithRegionFromCredentialScope(t *testing.T) {
	srv := newProbeServer(t, WithAccount("123456789012"))
	for _, region := range []string{"us-east-1", "eu-west-3", ""} {
		status, hdr, body := post(t, srv, probeTarget, region, `{}`)
		if status != 200 {
			t.Fatalf("region %q: status %d, body %s", region, status, body)
		}
		if got := hdr.Get("Content-Type"); got != "application/x-amz-json-1.1" {
			t.Errorf("Content-Type = %q", got)
		}
		if hdr.Get("x-amzn-RequestId") == "" {
			t.Errorf("no x-amzn-RequestId header")
		}
		var out map[string]string
		if err := json.Unmarshal([]byte(body), &out); err != nil {
			t.Fatal(err)
		}
		want := region
		if want == "" {
			want = DefaultRegion
		}
		if out["Region"] != want || out["Account"] != "123456789012" || out["Service"] != "ssm" || out["Operation"] != "ProbeOperation" {
			t.Errorf("region %q: handler saw %v", region, out)
		}
	}
}

func TestUnknownTargetIsUnknownOperationException(t *testing.T) {
	srv := newProbeServer(t)
	status, hdr, body := post(t, srv, "AmazonSSM.NoSuchOperation", "us-east-1", `{}`)
	if status != 400 {
		t.Fatalf("status %d, want 400", status)
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatalf("body %q is not JSON: %v", body, err)
	}
	if out["__type"] != "UnknownOperationException" {
		t.Errorf("__type = %v, want UnknownOperationException (body %s)", out["__type"], body)
	}
	if hdr.Get("x-amzn-ErrorType") != "UnknownOperationException" {
		t.Errorf("x-amzn-ErrorType = %q", hdr.Get("x-amzn-ErrorType"))
	}
	if c := srv.Calls(); len(c) != 0 {
		t.Errorf("unknown operations must not be counted: %v", c)
	}
}

func TestErrorWithoutMessageHasOnlyType(t *testing.T) {
	srv := newProbeServer(t)
	status, _, body := post(t, srv, probeTarget, "us-east-1", `{"Fail":"ParameterNotFound"}`)
	if status != 400 || body != `{"__type":"ParameterNotFound"}` {
		t.Fatalf("got %d %s, want 400 {\"__type\":\"ParameterNotFound\"}", status, body)
	}
}

// ssmClient returns a client for region that does not retry what the
// endpoint answered, so that it reaches the test unaltered.
func ssmClient(srv *Server, region string) *ssm.Client {
	cfg := srv.AWSConfig(region)
	cfg.Retryer = ClosedConnRetryer
	return ssm.NewFromConfig(cfg)
}

func stsClient(srv *Server, region string) *sts.Client {
	cfg := srv.AWSConfig(region)
	cfg.Retryer = ClosedConnRetryer
	return sts.NewFromConfig(cfg)
}

func callerIdentity(ctx context.Context, srv *Server, region string) error {
	_, err := stsClient(srv, region).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	return err
}

func apiError(t *testing.T, err error) smithy.APIError {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an AWS API error", err, err)
	}
	return ae
}

func TestSTSGetCallerIdentity(t *testing.T) {
	ctx := t.Context()
	srv := NewTestServer(t)
	out, err := stsClient(srv, "us-east-1").GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity: %v", err)
	}
	if aws.ToString(out.Account) != DefaultAccount || aws.ToString(out.Arn) != "arn:aws:iam::000000000000:root" || aws.ToString(out.UserId) != DefaultAccount {
		t.Errorf("got Account=%q Arn=%q UserId=%q", aws.ToString(out.Account), aws.ToString(out.Arn), aws.ToString(out.UserId))
	}

	other := NewTestServer(t, WithAccount("111122223333"))
	out, err = stsClient(other, "eu-west-1").GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity: %v", err)
	}
	if aws.ToString(out.Account) != "111122223333" || aws.ToString(out.Arn) != "arn:aws:iam::111122223333:root" {
		t.Errorf("WithAccount: got Account=%q Arn=%q", aws.ToString(out.Account), aws.ToString(out.Arn))
	}
	if got := srv.Calls()["sts.GetCallerIdentity"]; got != 1 {
		t.Errorf("Calls()[sts.GetCallerIdentity] = %d, want 1", got)
	}
}

func TestSTSWireFormat(t *testing.T) {
	srv := NewTestServer(t)
	status, hdr, body := post(t, srv, "", "us-east-1", "Action=GetCallerIdentity&Version=2011-06-15")
	if status != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/xml") {
		t.Fatalf("status %d, Content-Type %q, body %s", status, hdr.Get("Content-Type"), body)
	}
	var ok struct {
		XMLName xml.Name
		Result  struct{ Arn, UserId, Account string } `xml:"GetCallerIdentityResult"`
		Meta    struct{ RequestId string }            `xml:"ResponseMetadata"`
	}
	if err := xml.Unmarshal([]byte(body), &ok); err != nil {
		t.Fatalf("body %s: %v", body, err)
	}
	if ok.XMLName.Local != "GetCallerIdentityResponse" || ok.XMLName.Space != "https://sts.amazonaws.com/doc/2011-06-15/" ||
		ok.Result.Account != DefaultAccount || ok.Meta.RequestId != hdr.Get("x-amzn-RequestId") {
		t.Errorf("unexpected response %s", body)
	}

	for _, form := range []string{"Action=AssumeRoleWithMagic&Version=2011-06-15", "Action=GetCallerIdentity&Version=1999-01-01"} {
		status, _, body = post(t, srv, "", "us-east-1", form)
		var e struct {
			XMLName xml.Name
			Error   struct{ Type, Code, Message string }
			ReqID   string `xml:"RequestId"`
		}
		if err := xml.Unmarshal([]byte(body), &e); err != nil {
			t.Fatalf("body %s: %v", body, err)
		}
		v, _ := url.ParseQuery(form)
		want := "Could not find operation " + v.Get("Action") + " for version " + v.Get("Version")
		if status != 400 || e.XMLName.Local != "ErrorResponse" || e.Error.Type != "Sender" || e.Error.Code != "InvalidAction" || e.Error.Message != want || e.ReqID == "" {
			t.Errorf("%s: got %d %s", form, status, body)
		}
	}
}

func TestQuotaIsSharedByOperationsPerRegion(t *testing.T) {
	ctx := t.Context()
	// A bucket of 2 that refills once in ~3 hours: the third call is over.
	srv := newProbeServer(t, WithQuota(0.0001, 2, "ProbeOperation", "sts.GetCallerIdentity"))
	if _, _, body := post(t, srv, probeTarget, "us-east-1", `{}`); !strings.Contains(body, "us-east-1") {
		t.Fatalf("first call: %s", body)
	}
	if err := callerIdentity(ctx, srv, "us-east-1"); err != nil {
		t.Fatalf("second call, within the quota: %v", err)
	}
	err := callerIdentity(ctx, srv, "us-east-1")
	ae := apiError(t, err)
	if ae.ErrorCode() != "Throttling" || ae.ErrorMessage() != "Rate exceeded" {
		t.Errorf("STS over quota: %s %q, want Throttling \"Rate exceeded\"", ae.ErrorCode(), ae.ErrorMessage())
	}
	status, _, body := post(t, srv, probeTarget, "us-east-1", `{}`)
	if status != 400 || body != `{"__type":"ThrottlingException","message":"Rate exceeded"}` {
		t.Errorf("JSON over quota: %d %s", status, body)
	}
	// Another Region has its own bucket.
	if err := callerIdentity(ctx, srv, "eu-west-1"); err != nil {
		t.Errorf("another Region must have its own quota: %v", err)
	}
	// Throttled calls are counted: AWS counts them too.
	if got := srv.Calls()["sts.GetCallerIdentity"]; got != 3 {
		t.Errorf("Calls()[sts.GetCallerIdentity] = %d, want 3", got)
	}
	// Removing the quota at run time lets calls through again.
	srv.SetQuotas()
	if err := callerIdentity(ctx, srv, "us-east-1"); err != nil {
		t.Errorf("after SetQuotas(): %v", err)
	}
}

func TestQuotaOnlyAppliesToListedOperations(t *testing.T) {
	ctx := t.Context()
	srv := newProbeServer(t, WithQuota(0.0001, 1, "ssm.ProbeOperation"))
	for i := range 3 {
		if err := callerIdentity(ctx, srv, "us-east-1"); err != nil {
			t.Fatalf("call %d of an operation without quota: %v", i, err)
		}
	}
	post(t, srv, probeTarget, "us-east-1", `{}`)
	if status, _, body := post(t, srv, probeTarget, "us-east-1", `{}`); status != 400 || !strings.Contains(body, "ThrottlingException") {
		t.Errorf("second probe call: %d %s", status, body)
	}
}

func TestThrottlingSurfacesInSDKAsThrottlingException(t *testing.T) {
	ctx := t.Context()
	srv := NewTestServer(t, WithFaults(FaultSpec{ThrottleRate: 1, Operations: []string{"GetParameter"}}))
	_, err := ssmClient(srv, "us-east-1").GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/x")})
	ae := apiError(t, err)
	var te *ssmtypes.ThrottlingException
	if !errors.As(err, &te) || ae.ErrorCode() != "ThrottlingException" || ae.ErrorMessage() != "Rate exceeded" {
		t.Errorf("got %T %s %q, want *types.ThrottlingException \"Rate exceeded\"", err, ae.ErrorCode(), ae.ErrorMessage())
	}
	// The filter leaves other operations alone.
	if err := callerIdentity(ctx, srv, "us-east-1"); err != nil {
		t.Errorf("GetCallerIdentity is not in the fault filter: %v", err)
	}
}

func TestInjectedInternalErrorsAndResets(t *testing.T) {
	ctx := t.Context()
	srv := newProbeServer(t)
	if err := callerIdentity(ctx, srv, "us-east-1"); err != nil {
		t.Fatalf("faults are off by default: %v", err)
	}

	srv.SetFaults(FaultSpec{InternalErrorRate: 1})
	status, _, body := post(t, srv, probeTarget, "us-east-1", `{}`)
	if status != 500 || !strings.Contains(body, `"__type":"InternalServerError"`) {
		t.Errorf("injected 500: got %d %s", status, body)
	}
	var re interface{ HTTPStatusCode() int }
	err := callerIdentity(ctx, srv, "us-east-1")
	if !errors.As(err, &re) || re.HTTPStatusCode() != 500 || apiError(t, err).ErrorCode() != "InternalFailure" {
		t.Errorf("STS with injected 500: %v", err)
	}

	srv.SetFaults(FaultSpec{ConnectionResetRate: 1})
	err = callerIdentity(ctx, srv, "us-east-1")
	var ae smithy.APIError
	if err == nil || errors.As(err, &ae) {
		t.Errorf("a reset connection must be a transport error, not an API answer: %v", err)
	}
	if _, err := http.Post(srv.URL, "application/x-www-form-urlencoded", strings.NewReader("Action=GetCallerIdentity&Version=2011-06-15")); err == nil {
		t.Errorf("raw POST on a reset connection got an answer")
	}

	srv.SetFaults(FaultSpec{})
	if err := callerIdentity(ctx, srv, "us-east-1"); err != nil {
		t.Errorf("after turning faults off: %v", err)
	}
}

func TestSDKRetriesThroughInjectedFaults(t *testing.T) {
	// With the SDK's default retryer (3 attempts) a low fault rate is
	// invisible to the caller; the counters show the retries.
	srv := NewTestServer(t, WithFaults(FaultSpec{InternalErrorRate: 0.3, ConnectionResetRate: 0.2, Seed: 7}))
	client := sts.NewFromConfig(srv.AWSConfig("us-east-1"), func(o *sts.Options) { o.RetryMaxAttempts = 10 })
	for i := range 10 {
		if _, err := client.GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{}); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if got := srv.Calls()["sts.GetCallerIdentity"]; got <= 10 {
		t.Errorf("Calls() = %d: with half the calls failing, retries must show", got)
	}
}

// outcomes runs n calls one after another and records which failed how.
func outcomes(t *testing.T, srv *Server, n int) string {
	var b strings.Builder
	for range n {
		status, _, _ := post(t, srv, probeTarget, "us-east-1", `{}`)
		switch status {
		case 200:
			b.WriteByte('.')
		case 400:
			b.WriteByte('T')
		case 500:
			b.WriteByte('E')
		default:
			b.WriteByte('?')
		}
	}
	return b.String()
}

func TestSeededFaultsAreRepeatable(t *testing.T) {
	spec := FaultSpec{ThrottleRate: 0.3, InternalErrorRate: 0.3, Seed: 42}
	a := outcomes(t, newProbeServer(t, WithFaults(spec)), 40)
	b := outcomes(t, newProbeServer(t, WithFaults(spec)), 40)
	if a != b {
		t.Errorf("same seed, different faults:\n%s\n%s", a, b)
	}
	if !strings.Contains(a, ".") || !strings.Contains(a, "T") || !strings.Contains(a, "E") {
		t.Errorf("40 calls at 30%%/30%% should show successes, throttles and 500s: %s", a)
	}
	srv := newProbeServer(t, WithFaults(spec))
	first := outcomes(t, srv, 10)
	srv.SetFaults(spec) // restarts the sequence
	if again := outcomes(t, srv, 10); again != first {
		t.Errorf("SetFaults with the same seed must restart the sequence: %s vs %s", first, again)
	}
}

func TestLatencyDelaysCalls(t *testing.T) {
	// Only a lower bound: a loaded machine may be slower, never faster.
	const d = 150 * time.Millisecond
	srv := NewTestServer(t, WithLatency(d))
	start := time.Now()
	if err := callerIdentity(t.Context(), srv, "us-east-1"); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < d {
		t.Errorf("call took %v with latency %v", el, d)
	}
	srv.SetLatency(0)
	srv.SetRealism(Realism{SpikeProb: 1, SpikeDelay: d})
	start = time.Now()
	if err := callerIdentity(t.Context(), srv, "us-east-1"); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < d {
		t.Errorf("call with a certain spike took %v, want ≥ %v", el, d)
	}
	if got := srv.Realism(); got.SpikeDelay != d || got.Latency != 0 {
		t.Errorf("Realism() = %+v", got)
	}
}

func TestCallCounters(t *testing.T) {
	srv := newProbeServer(t)
	for range 3 {
		post(t, srv, probeTarget, "us-east-1", `{}`)
	}
	callerIdentity(t.Context(), srv, "us-east-1")
	got := srv.Calls()
	if got["ssm.ProbeOperation"] != 3 || got["sts.GetCallerIdentity"] != 1 || len(got) != 2 {
		t.Errorf("Calls() = %v", got)
	}
	got["ssm.ProbeOperation"] = 100 // a copy: must not change the server's
	srv.ResetCalls()
	if c := srv.Calls(); len(c) != 0 {
		t.Errorf("after ResetCalls: %v", c)
	}
}

func TestRegionsAreIsolatedByCredentialScope(t *testing.T) {
	ctx := t.Context()
	srv := NewTestServer(t)
	east, west := ssmClient(srv, "us-east-1"), ssmClient(srv, "eu-west-1")
	if _, err := east.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/region/p"), Value: aws.String("east"), Type: ssmtypes.ParameterTypeString}); err != nil {
		t.Fatal(err)
	}
	_, err := west.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/region/p")})
	var nf *ssmtypes.ParameterNotFound
	if !errors.As(err, &nf) {
		t.Fatalf("eu-west-1 sees us-east-1's parameter: %v", err)
	}
	if _, err := west.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/region/p"), Value: aws.String("west"), Type: ssmtypes.ParameterTypeString}); err != nil {
		t.Fatalf("the same name in another Region is a different parameter: %v", err)
	}
	for region, want := range map[string]string{"us-east-1": "east", "eu-west-1": "west"} {
		out, err := ssmClient(srv, region).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/region/p")})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(out.Parameter.Value) != want || !strings.HasPrefix(aws.ToString(out.Parameter.ARN), "arn:aws:ssm:"+region+":") {
			t.Errorf("%s: value %q ARN %q", region, aws.ToString(out.Parameter.Value), aws.ToString(out.Parameter.ARN))
		}
	}
	// KMS keys too: a key made in one Region is not found in another.
	key, err := kms.NewFromConfig(srv.AWSConfig("us-east-1")).CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = kms.NewFromConfig(srv.AWSConfig("eu-west-1")).DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: key.KeyMetadata.KeyId})
	var knf *kmstypes.NotFoundException
	if !errors.As(err, &knf) {
		t.Errorf("eu-west-1 DescribeKey of a us-east-1 key: %v, want NotFoundException", err)
	}
}

func TestReadQuotaSharedByGetParameterFamily(t *testing.T) {
	// AWS shares one read quota among GetParameter, GetParameters and
	// GetParametersByPath per account and Region.
	ctx := t.Context()
	srv := NewTestServer(t, WithQuota(0.0001, 3, "GetParameter", "GetParameters", "GetParametersByPath"))
	c := ssmClient(srv, "us-east-1")
	if _, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/q/p"), Value: aws.String("v"), Type: ssmtypes.ParameterTypeString}); err != nil {
		t.Fatalf("PutParameter is not in the read quota: %v", err)
	}
	if _, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/q/p")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetParameters(ctx, &ssm.GetParametersInput{Names: []string{"/q/p"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetParametersByPath(ctx, &ssm.GetParametersByPathInput{Path: aws.String("/q")}); err != nil {
		t.Fatal(err)
	}
	_, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/q/p")})
	var te *ssmtypes.ThrottlingException
	if !errors.As(err, &te) || aws.ToString(te.Message) != "Rate exceeded" {
		t.Fatalf("fourth read: %v, want ThrottlingException: Rate exceeded", err)
	}
	if _, err := c.DescribeParameters(ctx, &ssm.DescribeParametersInput{}); err != nil {
		t.Errorf("DescribeParameters is not in the read quota: %v", err)
	}
	// The SDK's standard retryer backs off and retries throttling, but a
	// bucket that refills every few hours stays empty.
	retrying := ssm.NewFromConfig(srv.AWSConfig("us-east-1"))
	if _, err := retrying.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/q/p")}); !errors.As(err, &te) {
		t.Errorf("with retries: %v, want ThrottlingException", err)
	}
	if got := srv.Calls()["ssm.GetParameter"]; got < 4 {
		t.Errorf("Calls()[ssm.GetParameter] = %d: the retried call must count each attempt", got)
	}
}
