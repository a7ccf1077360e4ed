package server

import (
	"fmt"
	"net"
	"strconv"

	"github.com/nats-io/nats-server/v2/conf"
)

// LoadConfig reads what the tests use of a configuration file into
// Options, with nats-server's own parser (its `conf` package): `listen`
// (or `host`/`net` and `port`) and `authorization { user, password }`.
// Starling itself reads the whole file.
func LoadConfig(path string) (*Options, error) {
	m, err := conf.ParseFile(path)
	if err != nil {
		return nil, err
	}
	o := &Options{}
	for key, value := range m {
		switch key {
		case "listen":
			text, _ := value.(string)
			host, port, err := net.SplitHostPort(text)
			if err != nil {
				return nil, fmt.Errorf("%s: listen %q: %v", path, text, err)
			}
			o.Host = host
			if o.Port, err = strconv.Atoi(port); err != nil {
				return nil, fmt.Errorf("%s: listen %q: %v", path, text, err)
			}
		case "host", "net":
			o.Host, _ = value.(string)
		case "port":
			port, _ := value.(int64)
			o.Port = int(port)
		case "authorization":
			auth, _ := value.(map[string]interface{})
			for k, v := range auth {
				switch k {
				case "user", "username":
					o.Username, _ = v.(string)
				case "password", "pass":
					o.Password, _ = v.(string)
				}
			}
		}
	}
	return o, nil
}
