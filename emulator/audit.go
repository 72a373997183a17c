package emulator

import (
	"github.com/ssmstate/ssmstate/emulator/internal/audit"
	"github.com/ssmstate/ssmstate/emulator/internal/awsapi"
)

// registerAudit serves CloudTrail LookupEvents over the audit log. The Go
// SDK sends the model's full target prefix; the short form is accepted too.
// LookupEvents needs cloudtrail:LookupEvents on "*" when --iam is on; the
// lookups themselves are not recorded.
func (s *Server) registerAudit() {
	handlers := map[string]awsapi.Handler{}
	for op, h := range s.access.log.Handlers() {
		handlers[op] = func(r *awsapi.Request, body []byte) (any, error) {
			if err := s.access.authz.Authorize(r, awsapi.Check{Action: "cloudtrail:" + op, Resource: "*"}); err != nil {
				return nil, err
			}
			return h(r, body)
		}
	}
	s.register("cloudtrail", audit.TargetPrefix, handlers)
	s.register("cloudtrail", "CloudTrail_20131101", handlers)
}
