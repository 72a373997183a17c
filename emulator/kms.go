package emulator

import (
	"fmt"

	"github.com/ssmstate/ssmstate/emulator/internal/kmsemu"
)

// registerKMS starts the KMS service over the endpoint's store, keeps it in
// s.kms for the services that encrypt through it (SSM SecureString), and
// routes "TrentService.*" to it.
func (s *Server) registerKMS() error {
	svc, err := kmsemu.New(s.db, s.authorizer(), s.auditor(), "aws") // iam.go: AllowAll unless --iam
	if err != nil {
		return fmt.Errorf("start the KMS service: %w", err)
	}
	s.kms = svc
	s.register("kms", "TrentService", svc.Handlers())
	return nil
}
