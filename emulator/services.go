package emulator

// registerServices wires the services into the router.
func (s *Server) registerServices() error {
	return nil
}
