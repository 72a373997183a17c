package emulator

import (
	"net/http"
	"net/url"

	"github.com/ssmstate/ssmstate/emulator/internal/awsapi"
)

// registerServices wires the services into the router.
func (s *Server) registerServices() error {
	return nil
}

// serveQuery answers AWS query-protocol requests (STS).
func (s *Server) serveQuery(w http.ResponseWriter, r *awsapi.Request, body []byte) {
	form, _ := url.ParseQuery(string(body))
	writeJSONError(w, &awsapi.Error{Status: http.StatusBadRequest, Code: "InvalidAction", Message: "Could not find operation " + form.Get("Action")})
}
