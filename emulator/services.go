package emulator

import (
	"fmt"

	"github.com/ssmstate/ssmstate/emulator/internal/ssmemu"
)

// registerServices wires the services into the router.
func (s *Server) registerServices() error {
	if err := s.registerKMS(); err != nil {
		return err
	}
	// SSM Parameter Store, encrypting SecureStrings through KMS as the caller.
	var keys ssmemu.Keys
	if s.kms != nil {
		keys = s.kms
	}
	ssmSvc, err := ssmemu.New(s.db, keys, s.authorizer(), s.auditor()) // iam.go: AllowAll unless --iam
	if err != nil {
		return fmt.Errorf("start the SSM service: %w", err)
	}
	s.register(ssmemu.ServiceName, ssmemu.TargetPrefix, ssmSvc.Handlers())
	return nil
}
