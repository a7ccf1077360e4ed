package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// members are the running servers with a route listener. In a process of
// nats-server's tests, a server's routes are up within microseconds of its
// start, before a test's next step; here each server is a process, so a
// start returns only once every member has a route to every other one (as
// its /routez says), or fails.
var members = &cluster{running: map[*Server]bool{}}

// meshWithin bounds the wait for the routes.
const meshWithin = 10 * time.Second

type cluster struct {
	sync.Mutex
	running map[*Server]bool
}

// join adds s (when it has a route listener) and waits until the running
// members form a full mesh; s is shut down when they do not.
func (c *cluster) join(s *Server) (*Server, error) {
	if s.clusterAddr == nil || s.monitorAddr == nil {
		return s, nil
	}
	c.Lock()
	c.running[s] = true
	c.Unlock()
	deadline := time.Now().Add(meshWithin)
	for {
		missing := c.missing()
		if missing == "" {
			return s, nil
		}
		if time.Now().After(deadline) {
			s.Shutdown()
			return nil, fmt.Errorf("the cluster did not form within %v: %s", meshWithin, missing)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (c *cluster) leave(s *Server) {
	c.Lock()
	delete(c.running, s)
	c.Unlock()
}

// missing says which route is not up yet ("" when all are).
func (c *cluster) missing() string {
	c.Lock()
	var all []*Server
	for s := range c.running {
		all = append(all, s)
	}
	c.Unlock()
	for _, s := range all {
		peers, err := s.routes()
		if err != nil {
			return err.Error()
		}
		for _, other := range all {
			if other != s && !peers[other.id] {
				return fmt.Sprintf("%s has no route to %s", s.clusterAddr, other.clusterAddr)
			}
		}
	}
	return ""
}

// routes are the server ids of s's routes, from its /routez.
func (s *Server) routes() (map[string]bool, error) {
	resp, err := http.Get(fmt.Sprintf("http://%s/routez", s.monitorAddr))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var routez struct {
		Routes []struct {
			RemoteID string `json:"remote_id"`
		} `json:"routes"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&routez); err != nil {
		return nil, err
	}
	ids := map[string]bool{}
	for _, r := range routez.Routes {
		ids[r.RemoteID] = true
	}
	return ids, nil
}
