// Package test stands in for nats-server's `test` package (see package
// server): the default options of nats-server's test helpers and RunServer,
// which starts Starling with them.
package test

import (
	"fmt"

	"github.com/nats-io/nats-server/v2/server"
)

// DefaultTestOptions are nats-server's test defaults that a configuration
// file can say (its NoLog, NoSigs and DisableShortFirstPing concern an
// in-process server and have no file form).
var DefaultTestOptions = server.Options{
	Host:           "127.0.0.1",
	Port:           4222,
	MaxControlLine: 4096,
}

// RunServer starts Starling with opts and returns once it is ready; like
// nats-server's, it panics when the server does not start.
func RunServer(opts *server.Options) *server.Server {
	if opts == nil {
		opts = &DefaultTestOptions
	}
	s, err := server.Start(opts)
	if err != nil {
		panic(fmt.Sprintf("No NATS Server object returned: %v", err))
	}
	return s
}

// RunServerWithConfig starts Starling with a configuration file and returns
// it with the client listener's host and port; it panics when the server
// does not start.
func RunServerWithConfig(configFile string) (*server.Server, *server.Options) {
	s, opts, err := server.StartWithConfig(configFile)
	if err != nil {
		panic(fmt.Sprintf("No NATS Server object returned: %v", err))
	}
	return s, opts
}
