package emulator

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// fuzzTargets are the operations the endpoint routes, plus an unknown one
// and the STS query protocol (no target).
var fuzzTargets = []string{
	"AmazonSSM.PutParameter", "AmazonSSM.GetParameter", "AmazonSSM.GetParameters",
	"AmazonSSM.GetParametersByPath", "AmazonSSM.DeleteParameter", "AmazonSSM.DeleteParameters",
	"AmazonSSM.DescribeParameters", "AmazonSSM.GetParameterHistory", "AmazonSSM.LabelParameterVersion",
	"TrentService.CreateKey", "TrentService.Encrypt", "TrentService.Decrypt", "TrentService.GenerateDataKey",
	"TrentService.ReEncrypt", "TrentService.DescribeKey", "TrentService.CreateAlias", "TrentService.UpdateAlias",
	"TrentService.DisableKey", "TrentService.ScheduleKeyDeletion", "TrentService.ListAliases",
	"AmazonSSM.NoSuchOperation", "",
}

// FuzzRequest sends arbitrary bodies to every operation of the endpoint's
// request parsing (AWS JSON 1.1 and STS query). The endpoint must never
// panic, must answer every malformed request with an AWS-shaped client
// error (a JSON body with __type, HTTP 4xx), and never with an internal
// error: a 500 means a handler met input it did not expect.
func FuzzRequest(f *testing.F) {
	for i, body := range []string{
		`{}`, `{"Name":"/a","Value":"v","Type":"SecureString","Overwrite":true}`,
		`{"Name":"/a","WithDecryption":true}`, `{"Names":["/a","/b"]}`, `{"Path":"/","Recursive":true,"MaxResults":10}`,
		`{"ParameterFilters":[{"Key":"Name","Option":"BeginsWith","Values":["/a"]}]}`,
		`{"KeyId":"alias/x","Plaintext":"aGk="}`, `{"CiphertextBlob":"AAAA"}`, `{"KeySpec":"AES_256","KeyId":"alias/aws/ssm"}`,
		`{"AliasName":"alias/x","TargetKeyId":"1234"}`, `{"KeyId":"x","PendingWindowInDays":7}`,
		`Action=GetCallerIdentity&Version=2011-06-15`, `null`, `[]`, `{"Name":null}`, "{\"Name\":\"\xff\"}",
		`{"Name":"/a","Value":"` + strings.Repeat("v", 5000) + `","Type":"String"}`,
	} {
		f.Add(uint8(i), body)
	}
	// One endpoint for every input (each fuzzing worker process makes its
	// own); requests go straight to its handler.
	fuzzSrv := NewTestServer(f)
	f.Fuzz(func(t *testing.T, which uint8, body string) {
		target := fuzzTargets[int(which)%len(fuzzTargets)]
		req := httptest.NewRequest("POST", "/", strings.NewReader(body))
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+DummyAccessKeyID+"/20260101/us-east-1/ssm/aws4_request, SignedHeaders=host, Signature=00")
		if target != "" {
			req.Header.Set("X-Amz-Target", target)
			req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		} else {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		w := httptest.NewRecorder()
		fuzzSrv.ServeHTTP(w, req)
		res := w.Result()
		if res.StatusCode == http.StatusOK {
			return
		}
		if res.StatusCode >= 500 {
			t.Fatalf("%s answered HTTP %d to a malformed request: %s", target, res.StatusCode, w.Body.String())
		}
		if target == "" {
			return // STS answers in XML
		}
		var e struct {
			Type string `json:"__type"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Type == "" {
			t.Fatalf("%s answered HTTP %d without an AWS JSON error: %q", target, res.StatusCode, w.Body.String())
		}
		if !slices.Contains([]int{400, 403, 404, 413}, res.StatusCode) {
			t.Fatalf("%s answered HTTP %d (%s)", target, res.StatusCode, e.Type)
		}
	})
}
