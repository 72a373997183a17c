package emulator

import (
	"encoding/xml"
	"net/http"
	"net/url"

	"github.com/ssmstate/ssmstate/emulator/internal/awsapi"
)

// STS speaks the AWS query protocol: a form-encoded POST (or a GET with the
// same query string) carrying Action and Version, answered in XML.
const (
	stsVersion   = "2011-06-15"
	stsNamespace = "https://sts.amazonaws.com/doc/2011-06-15/"
)

// stsHandlers are the STS actions served, by Action.
var stsHandlers = map[string]func(s *Server, r *awsapi.Request, form url.Values) (any, error){
	"GetCallerIdentity": (*Server).getCallerIdentity,
}

// serveQuery answers AWS query-protocol requests (STS).
func (s *Server) serveQuery(w http.ResponseWriter, req *http.Request, r *awsapi.Request, body []byte) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		writeQueryError(w, r.RequestID, &awsapi.Error{Status: http.StatusBadRequest, Code: "MalformedInput", Message: "could not parse the form-encoded request body"})
		return
	}
	for k, v := range req.URL.Query() {
		if _, ok := form[k]; !ok {
			form[k] = v
		}
	}
	action, version := form.Get("Action"), form.Get("Version")
	h, ok := stsHandlers[action]
	if !ok || version != stsVersion {
		// AWS answers an unknown action, or a known one with another
		// version, with this message.
		writeQueryError(w, r.RequestID, &awsapi.Error{Status: http.StatusBadRequest, Code: "InvalidAction",
			Message: "Could not find operation " + action + " for version " + version})
		return
	}
	r.Service, r.Operation = "sts", action
	if e := s.applyRealism(w, r); e != nil {
		if e.Code != "" {
			writeQueryError(w, r.RequestID, e)
		}
		return
	}
	out, err := h(s, r, form)
	if err != nil {
		ae, ok := err.(*awsapi.Error)
		if !ok {
			s.cfg.logger.Error("internal error", "action", action, "err", err)
			ae = &awsapi.Error{Status: http.StatusInternalServerError, Code: "InternalFailure", Message: "internal error"}
		}
		writeQueryError(w, r.RequestID, ae)
		return
	}
	b, err := xml.Marshal(out)
	if err != nil {
		writeQueryError(w, r.RequestID, &awsapi.Error{Status: http.StatusInternalServerError, Code: "InternalFailure", Message: "internal error"})
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

type stsResponseMetadata struct {
	RequestID string `xml:"RequestId"`
}

// getCallerIdentityResponse is the XML AWS sends:
//
//	<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
//	  <GetCallerIdentityResult>
//	    <Arn>arn:aws:iam::123456789012:user/Alice</Arn>
//	    <UserId>AIDA...</UserId>
//	    <Account>123456789012</Account>
//	  </GetCallerIdentityResult>
//	  <ResponseMetadata><RequestId>…</RequestId></ResponseMetadata>
//	</GetCallerIdentityResponse>
type getCallerIdentityResponse struct {
	XMLName xml.Name `xml:"GetCallerIdentityResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Result  struct {
		Arn     string `xml:"Arn"`
		UserID  string `xml:"UserId"`
		Account string `xml:"Account"`
	} `xml:"GetCallerIdentityResult"`
	ResponseMetadata stsResponseMetadata `xml:"ResponseMetadata"`
}

// getCallerIdentity tells the caller who it is. No permission is needed for
// it on AWS, so it is never denied.
func (s *Server) getCallerIdentity(r *awsapi.Request, _ url.Values) (any, error) {
	out := &getCallerIdentityResponse{Xmlns: stsNamespace}
	out.Result.Arn = r.Principal.ARN
	out.Result.UserID = r.Principal.UserID
	out.Result.Account = r.Principal.Account
	out.ResponseMetadata.RequestID = r.RequestID
	return out, nil
}

// queryErrorResponse is a query-protocol error as AWS sends it:
//
//	<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
//	  <Error><Type>Sender</Type><Code>…</Code><Message>…</Message></Error>
//	  <RequestId>…</RequestId>
//	</ErrorResponse>
type queryErrorResponse struct {
	XMLName xml.Name `xml:"ErrorResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Error   struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message,omitempty"`
	} `xml:"Error"`
	RequestID string `xml:"RequestId"`
}

func writeQueryError(w http.ResponseWriter, requestID string, e *awsapi.Error) {
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	out := queryErrorResponse{Xmlns: stsNamespace, RequestID: requestID}
	out.Error.Type = "Sender"
	if status >= 500 {
		out.Error.Type = "Receiver"
	}
	out.Error.Code, out.Error.Message = e.Code, e.Message
	b, _ := xml.Marshal(out)
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	w.Write(b)
}
