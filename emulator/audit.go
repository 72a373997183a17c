package emulator

import "github.com/ssmstate/ssmstate/emulator/internal/audit"

// registerAudit serves CloudTrail LookupEvents over the audit log. The Go
// SDK sends the model's full target prefix; the short form is accepted too.
func (s *Server) registerAudit() {
	s.register("cloudtrail", audit.TargetPrefix, s.access.log.Handlers())
	s.register("cloudtrail", "CloudTrail_20131101", s.access.log.Handlers())
}
