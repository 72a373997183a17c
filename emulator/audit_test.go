package emulator_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ssmstate/ssmstate/emulator"
)

// Audit tests: every call is recorded, and CloudTrail LookupEvents, driven
// by the aws-sdk-go-v2 cloudtrail client, finds it.

func ctAs(srv *emulator.Server, p emulator.IAMPrincipal) *cloudtrail.Client {
	return cloudtrail.NewFromConfig(cfgAs(srv, p))
}

// ctRecord is the part of a CloudTrailEvent JSON the tests look at.
type ctRecord struct {
	EventVersion string `json:"eventVersion"`
	UserIdentity struct {
		Type        string `json:"type"`
		ARN         string `json:"arn"`
		AccountID   string `json:"accountId"`
		AccessKeyID string `json:"accessKeyId"`
		InvokedBy   string `json:"invokedBy"`
	} `json:"userIdentity"`
	EventSource       string         `json:"eventSource"`
	EventName         string         `json:"eventName"`
	AWSRegion         string         `json:"awsRegion"`
	SourceIPAddress   string         `json:"sourceIPAddress"`
	UserAgent         string         `json:"userAgent"`
	ErrorCode         string         `json:"errorCode"`
	ErrorMessage      string         `json:"errorMessage"`
	RequestParameters map[string]any `json:"requestParameters"`
	ReadOnly          bool           `json:"readOnly"`
	Resources         []struct {
		Type string `json:"type"`
		ARN  string `json:"ARN"`
	} `json:"resources"`
}

func ctRecordOf(t *testing.T, e cttypes.Event) ctRecord {
	t.Helper()
	var r ctRecord
	if err := json.Unmarshal([]byte(aws.ToString(e.CloudTrailEvent)), &r); err != nil {
		t.Fatalf("CloudTrailEvent is not JSON: %v: %q", err, aws.ToString(e.CloudTrailEvent))
	}
	return r
}

// lookupAllEvents pages through LookupEvents with the SDK's paginator.
func lookupAllEvents(t *testing.T, c *cloudtrail.Client, in *cloudtrail.LookupEventsInput) []cttypes.Event {
	t.Helper()
	var out []cttypes.Event
	p := cloudtrail.NewLookupEventsPaginator(c, in)
	for p.HasMorePages() {
		page, err := p.NextPage(actx(t))
		if err != nil {
			t.Fatalf("LookupEvents: %v", err)
		}
		out = append(out, page.Events...)
	}
	return out
}

func eventNamed(name string) *cloudtrail.LookupEventsInput {
	return &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String(name)}}}
}

func TestAuditLookupEventsFiltersAndPaging(t *testing.T) {
	reader := iamUser("reader", allowPolicy("ssm:GetParameter", "arn:aws:ssm:*:*:parameter/app/*"))
	auditor := iamUser("auditor", allowPolicy("cloudtrail:LookupEvents", "*"))
	srv := startIAM(t, reader, auditor)
	before := time.Now().Add(-time.Minute)
	adminPutString(t, srv, "/app/a", "value-a")
	adminPutString(t, srv, "/app/b", "value-b")
	adminPutString(t, srv, "/secret", "value-s")
	rc := ssmAs(srv, reader)
	for _, n := range []string{"/app/a", "/app/a", "/app/b"} {
		if _, err := rc.GetParameter(actx(t), &ssm.GetParameterInput{Name: aws.String(n)}); err != nil {
			t.Fatalf("reader reads %s: %v", n, err)
		}
	}
	if _, err := rc.GetParameter(actx(t), &ssm.GetParameterInput{Name: aws.String("/secret")}); err == nil {
		t.Fatal("reader read /secret")
	}
	ct := ctAs(srv, auditor)

	// LookupEvents itself needs permission.
	_, err := ctAs(srv, reader).LookupEvents(actx(t), &cloudtrail.LookupEventsInput{})
	wantAccessErr(t, err, "AccessDeniedException", "User: "+reader.ARN+" is not authorized to perform: cloudtrail:LookupEvents…")

	gets := lookupAllEvents(t, ct, eventNamed("GetParameter"))
	if len(gets) != 4 {
		t.Fatalf("EventName=GetParameter: %d events, want 4", len(gets))
	}
	// Most recent first: the denied read of /secret.
	denied := ctRecordOf(t, gets[0])
	if denied.ErrorCode != "AccessDeniedException" || denied.UserIdentity.ARN != reader.ARN ||
		!strings.Contains(denied.ErrorMessage, "ssm:GetParameter on resource: "+iamParamARN("/secret")) {
		t.Fatalf("newest GetParameter event = %+v, want reader's denied read of /secret", denied)
	}
	if aws.ToString(gets[0].Username) != "reader" || aws.ToString(gets[0].AccessKeyId) != reader.AccessKeyID || aws.ToString(gets[0].ReadOnly) != "true" {
		t.Fatalf("denied event: Username %q AccessKeyId %q ReadOnly %q", aws.ToString(gets[0].Username), aws.ToString(gets[0].AccessKeyId), aws.ToString(gets[0].ReadOnly))
	}
	if denied.UserIdentity.Type != "IAMUser" || denied.UserIdentity.AccountID != iamAccount || denied.EventSource != "ssm.amazonaws.com" || denied.AWSRegion != iamRegion {
		t.Fatalf("denied record identity/source: %+v", denied)
	}
	for _, e := range gets {
		if strings.Contains(aws.ToString(e.CloudTrailEvent), "value-") {
			t.Fatalf("a parameter value is in the audit record: %s", aws.ToString(e.CloudTrailEvent))
		}
	}

	// Username filter.
	mine := lookupAllEvents(t, ct, &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKeyUsername, AttributeValue: aws.String("reader")}}})
	if len(mine) != 4 {
		t.Fatalf("Username=reader: %d events, want 4", len(mine))
	}
	// ResourceName filter, by name and by ARN.
	for _, rn := range []string{"/app/a", iamParamARN("/app/a")} {
		evs := lookupAllEvents(t, ct, &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKeyResourceName, AttributeValue: aws.String(rn)}}})
		if len(evs) != 3 { // the put and two reads
			t.Fatalf("ResourceName=%s: %d events, want 3", rn, len(evs))
		}
		if r := evs[0].Resources; len(r) != 1 || aws.ToString(r[0].ResourceName) != iamParamARN("/app/a") || aws.ToString(r[0].ResourceType) != "AWS::SSM::Parameter" {
			t.Fatalf("resources of a read of /app/a: %+v", r)
		}
		if got := ctRecordOf(t, evs[0]).RequestParameters["name"]; got != "/app/a" {
			t.Fatalf("requestParameters.name = %v, want /app/a", got)
		}
	}

	// Paging: pages of 2 give the same events as one page, newest first,
	// each once.
	all := lookupAllEvents(t, ct, &cloudtrail.LookupEventsInput{})
	var paged []cttypes.Event
	var token *string
	pages := 0
	for {
		out, err := ct.LookupEvents(actx(t), &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(2), NextToken: token})
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		if len(out.Events) > 2 {
			t.Fatalf("page of %d events with MaxResults 2", len(out.Events))
		}
		paged = append(paged, out.Events...)
		pages++
		if out.NextToken == nil {
			break
		}
		token = out.NextToken
	}
	if len(all) < 7 || len(paged) != len(all) || pages != (len(all)+1)/2 {
		t.Fatalf("paged %d events in %d pages, unpaged %d", len(paged), pages, len(all))
	}
	for i := range all {
		if aws.ToString(all[i].EventId) != aws.ToString(paged[i].EventId) {
			t.Fatalf("event %d differs between paged and unpaged listings", i)
		}
		if i > 0 && all[i].EventTime.After(*all[i-1].EventTime) {
			t.Fatalf("events not newest first at %d", i)
		}
	}

	// Time range.
	if evs := lookupAllEvents(t, ct, &cloudtrail.LookupEventsInput{EndTime: aws.Time(before)}); len(evs) != 0 {
		t.Fatalf("EndTime before every call: %d events", len(evs))
	}
	if evs := lookupAllEvents(t, ct, &cloudtrail.LookupEventsInput{StartTime: aws.Time(before), EndTime: aws.Time(time.Now().Add(time.Minute))}); len(evs) != len(all) {
		t.Fatalf("range around every call: %d events, want %d", len(evs), len(all))
	}
	if evs := lookupAllEvents(t, ct, &cloudtrail.LookupEventsInput{StartTime: aws.Time(time.Now().Add(time.Hour))}); len(evs) != 0 {
		t.Fatalf("StartTime in the future: %d events", len(evs))
	}

	// Errors AWS documents for LookupEvents.
	_, err = ct.LookupEvents(actx(t), &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{
		{AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String("GetParameter")},
		{AttributeKey: cttypes.LookupAttributeKeyUsername, AttributeValue: aws.String("reader")}}})
	wantAccessErr(t, err, "InvalidLookupAttributesException", "…")
	_, err = ct.LookupEvents(actx(t), &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(51)})
	wantAccessErr(t, err, "InvalidMaxResultsException", "…")
	_, err = ct.LookupEvents(actx(t), &cloudtrail.LookupEventsInput{StartTime: aws.Time(time.Now()), EndTime: aws.Time(before)})
	wantAccessErr(t, err, "InvalidTimeRangeException", "…")
	_, err = ct.LookupEvents(actx(t), &cloudtrail.LookupEventsInput{NextToken: aws.String("not a token")})
	wantAccessErr(t, err, "InvalidNextTokenException", "…")
}

func TestAuditRecordsAuthenticationFailures(t *testing.T) {
	reader := iamUser("reader", allowPolicy("ssm:*", "*"))
	srv := startIAM(t, reader)
	wrong := reader
	wrong.SecretAccessKey = "wrong"
	ssmAs(srv, wrong).DescribeParameters(actx(t), &ssm.DescribeParametersInput{})
	stranger := iamUser("stranger")
	ssmAs(srv, stranger).DescribeParameters(actx(t), &ssm.DescribeParametersInput{})

	evs := srv.AuditEvents()
	var badSig, unknown bool
	for _, e := range evs {
		switch {
		case e.ErrorCode == "InvalidSignatureException" && e.PrincipalARN == reader.ARN && e.EventSource == "ssm.amazonaws.com" && e.EventName == "DescribeParameters":
			badSig = true
		case e.ErrorCode == "UnrecognizedClientException" && e.PrincipalARN == "" && e.AccessKeyID == stranger.AccessKeyID:
			unknown = true
		}
	}
	if !badSig || !unknown {
		t.Fatalf("audit events %+v: bad signature recorded %v, unknown key recorded %v", evs, badSig, unknown)
	}
}

func TestAuditOpenEndpointRecordsToo(t *testing.T) {
	srv := emulator.NewTestServer(t)
	c := ssm.NewFromConfig(srv.AWSConfig(iamRegion))
	if _, err := c.PutParameter(actx(t), &ssm.PutParameterInput{Name: aws.String("/x"), Value: aws.String("v"), Type: "String"}); err != nil {
		t.Fatal(err)
	}
	evs := lookupAllEvents(t, cloudtrail.NewFromConfig(srv.AWSConfig(iamRegion)), eventNamed("PutParameter"))
	if len(evs) != 1 || aws.ToString(evs[0].Username) != "root" || aws.ToString(evs[0].ReadOnly) != "false" {
		t.Fatalf("open endpoint PutParameter events: %+v", evs)
	}
}

func TestAuditCapacityKeepsTheNewest(t *testing.T) {
	srv := emulator.NewTestServer(t, emulator.WithAuditCapacity(3))
	c := ssm.NewFromConfig(srv.AWSConfig(iamRegion))
	openARN := func(name string) string {
		return "arn:aws:ssm:" + iamRegion + ":" + srv.Account() + ":parameter" + name
	}
	for i := 0; i < 5; i++ {
		name := "/cap/" + string(rune('a'+i))
		if _, err := c.PutParameter(actx(t), &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String("v"), Type: "String"}); err != nil {
			t.Fatal(err)
		}
	}
	evs := srv.AuditEvents()
	if len(evs) != 3 {
		t.Fatalf("%d events kept with capacity 3", len(evs))
	}
	for i, want := range []string{"/cap/c", "/cap/d", "/cap/e"} { // oldest first
		if len(evs[i].Resources) != 1 || evs[i].Resources[0] != openARN(want) {
			t.Fatalf("event %d is about %v, want %s", i, evs[i].Resources, want)
		}
	}
	// Paging over the wrapped ring: newest first, each once.
	var names []string
	var token *string
	ct := cloudtrail.NewFromConfig(srv.AWSConfig(iamRegion))
	for {
		out, err := ct.LookupEvents(actx(t), &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(2), NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range out.Events {
			names = append(names, aws.ToString(e.Resources[0].ResourceName))
		}
		if token = out.NextToken; token == nil {
			break
		}
	}
	if strings.Join(names, ",") != strings.Join([]string{openARN("/cap/e"), openARN("/cap/d"), openARN("/cap/c")}, ",") {
		t.Fatalf("paged resources %v", names)
	}
}
