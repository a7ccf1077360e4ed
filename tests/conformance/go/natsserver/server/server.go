// Package server stands in for nats-server's `server` package when nats.go's
// own tests run against Starling (`cargo xtask conformance --suite
// natsgo-cluster`). It has what those tests use of it, and no more: the
// options they set, turned into a Starling configuration file, and a Server
// that is a running `starling` process.
//
// Nothing here imitates a broker: every Server is the real binary, found
// through $STARLING_BIN, its log kept under $STARLING_LOGS.
package server

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// VERSION is the nats-server version whose protocol Starling speaks (the
// `version` of its INFO); nats.go's tests skip what needs a newer one.
const VERSION = "2.9.10"

// readyWithin bounds a start: nats-server's test helper waits as long.
const readyWithin = 10 * time.Second

// ClusterOpts are the `cluster {}` settings the tests set.
type ClusterOpts struct {
	Name string
	Host string
	Port int
}

// Options are the settings the tests set; Start writes them as a
// configuration file. A port of -1 means any free port, as in nats-server.
type Options struct {
	Host           string
	Port           int
	Username       string
	Password       string
	MaxControlLine int32
	Cluster        ClusterOpts
	Routes         []*url.URL
}

// RoutesFromStr parses a comma-separated list of route URLs, as
// nats-server's does.
func RoutesFromStr(routesStr string) []*url.URL {
	var routes []*url.URL
	for _, r := range strings.Split(routesStr, ",") {
		u, _ := url.Parse(strings.TrimSpace(r))
		routes = append(routes, u)
	}
	return routes
}

// config is the Starling configuration file for these options.
func (o *Options) config() string {
	var b strings.Builder
	q := strconv.Quote
	fmt.Fprintf(&b, "host: %s\nport: %d\n", q(o.Host), o.Port)
	if o.MaxControlLine > 0 {
		fmt.Fprintf(&b, "max_control_line: %d\n", o.MaxControlLine)
	}
	if o.Username != "" || o.Password != "" {
		fmt.Fprintf(&b, "authorization { user: %s, password: %s }\n", q(o.Username), q(o.Password))
	}
	// As in nats-server, a cluster without a port listens nowhere: only
	// its name is kept.
	if o.Cluster.Port != 0 || o.Cluster.Name != "" {
		b.WriteString("cluster {\n")
		if o.Cluster.Name != "" {
			fmt.Fprintf(&b, "  name: %s\n", q(o.Cluster.Name))
		}
		if o.Cluster.Port != 0 {
			host := o.Cluster.Host
			if host == "" {
				host = "0.0.0.0"
			}
			fmt.Fprintf(&b, "  host: %s\n  port: %d\n", q(host), o.Cluster.Port)
		}
		if len(o.Routes) > 0 {
			b.WriteString("  routes: [\n")
			for _, r := range o.Routes {
				fmt.Fprintf(&b, "    %s\n", q(r.String()))
			}
			b.WriteString("  ]\n")
		}
		b.WriteString("}\n")
	}
	return b.String()
}

// Server is a running `starling` process.
type Server struct {
	cmd         *exec.Cmd
	exited      chan struct{}
	id          string
	clientAddr  *net.TCPAddr
	clusterAddr *net.TCPAddr
	monitorAddr *net.TCPAddr
	stop        sync.Once
}

// started counts starts, to name each one's files.
var started int64

// Start runs Starling with these options and returns once it has logged
// "Server is ready" (its listeners are bound then), or an error with its
// log so far.
func Start(o *Options) (*Server, error) {
	bin, base, err := files()
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(base+".conf", []byte(o.config()), 0o644); err != nil {
		return nil, err
	}
	return startWith(bin, base+".conf", base)
}

// StartWithConfig runs Starling with a configuration file of the test's,
// as nats-server's RunServerWithConfig does, and returns the options the
// tests read from it (see LoadConfig).
func StartWithConfig(path string) (*Server, *Options, error) {
	opts, err := LoadConfig(path)
	if err != nil {
		return nil, nil, err
	}
	bin, base, err := files()
	if err != nil {
		return nil, nil, err
	}
	s, err := startWith(bin, path, base)
	if err != nil {
		return nil, nil, err
	}
	return s, opts, nil
}

// files names the binary, and the path (without extension) of this
// start's configuration and log.
func files() (bin, base string, err error) {
	bin = os.Getenv("STARLING_BIN")
	if bin == "" {
		return "", "", fmt.Errorf("STARLING_BIN is not set")
	}
	dir := os.Getenv("STARLING_LOGS")
	if dir == "" {
		dir = os.TempDir()
	}
	n := atomic.AddInt64(&started, 1)
	return bin, filepath.Join(dir, fmt.Sprintf("natsgo-%d-%d", os.Getpid(), n)), nil
}

func startWith(bin, config, base string) (*Server, error) {
	logFile, err := os.Create(base + ".log")
	if err != nil {
		return nil, err
	}
	// A monitoring port of its own: where the stand-in asks whether the
	// cluster has formed, and how many routes there are.
	cmd := exec.Command(bin, "-c", config, "-m", "-1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		logFile.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	s := &Server{cmd: cmd, exited: make(chan struct{})}
	ready := make(chan error, 1)
	go s.watch(stderr, logFile, ready)
	select {
	case err := <-ready:
		if err == nil {
			return members.join(s)
		}
		s.Shutdown()
		return nil, fmt.Errorf("%v (log: %s.log)", err, base)
	case <-time.After(readyWithin):
		s.Shutdown()
		return nil, fmt.Errorf("starling not ready within %v (log: %s.log)", readyWithin, base)
	}
}

// watch copies the log to its file, noting the bound addresses, and says
// on ready when the server is ready or has exited before that.
func (s *Server) watch(stderr io.Reader, logFile *os.File, ready chan<- error) {
	defer logFile.Close()
	lines := bufio.NewScanner(stderr)
	said := false
	for lines.Scan() {
		line := lines.Text()
		fmt.Fprintln(logFile, line)
		if said {
			continue
		}
		if i := strings.Index(line, "  ID:"); i >= 0 {
			s.id = strings.TrimSpace(line[i+len("  ID:"):])
		} else if addr, ok := after(line, "Starting http monitor on "); ok {
			s.monitorAddr = addr
		} else if addr, ok := listening(line, "client"); ok {
			s.clientAddr = addr
		} else if addr, ok := listening(line, "route"); ok {
			s.clusterAddr = addr
		} else if strings.HasSuffix(line, "Server is ready") {
			said = true
			ready <- nil
		}
	}
	// Drain what a line too long for the scanner left behind.
	_, _ = io.Copy(logFile, stderr)
	err := s.cmd.Wait()
	close(s.exited)
	if !said {
		ready <- fmt.Errorf("starling exited before it was ready: %v", err)
	}
}

// listening reads "Listening for <kind> connections on host:port".
func listening(line, kind string) (*net.TCPAddr, bool) {
	return after(line, "Listening for "+kind+" connections on ")
}

// after reads the host:port that ends a line after marker.
func after(line, marker string) (*net.TCPAddr, bool) {
	i := strings.Index(line, marker)
	if i < 0 {
		return nil, false
	}
	addr, err := net.ResolveTCPAddr("tcp", strings.TrimSpace(line[i+len(marker):]))
	return addr, err == nil
}

// Shutdown stops the server (SIGTERM, then SIGKILL if it lingers) and
// returns once the process has exited. It may be called more than once.
func (s *Server) Shutdown() {
	s.stop.Do(func() {
		members.leave(s)
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(readyWithin):
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
	})
}

// ClientURL is the nats:// URL of the client listener.
func (s *Server) ClientURL() string {
	addr := *s.clientAddr
	if addr.IP.IsUnspecified() {
		addr.IP = net.IPv4(127, 0, 0, 1)
	}
	return fmt.Sprintf("nats://%s", &addr)
}

// NumRoutes is the number of routes, as the server's /routez counts
// them (0 when it cannot be asked).
func (s *Server) NumRoutes() int {
	if s.monitorAddr == nil {
		return 0
	}
	routes, err := s.routes()
	if err != nil {
		return 0
	}
	return len(routes)
}

// ClusterAddr is the address of the route listener, nil without one.
func (s *Server) ClusterAddr() *net.TCPAddr {
	return s.clusterAddr
}
