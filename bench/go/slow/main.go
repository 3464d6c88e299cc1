// The concurrency bench's slow provider, written with DRP's Go plugin package: the
// same actions as bench/providers/slow.py (wait_sync and wait_async both block their
// goroutine for slow/seconds, default 1, then log one line), so both run in one
// harness.  Build it in a GOPATH holding digitalrebar/provision v4.8.0 and its
// dependencies (bench/README.md, "The Go references"):
//
//	cp -r bench/go/slow $GOBUILD/src/slowbench && go build -o $GOBUILD/bin/slow slowbench
//
// then run the bench with DRP_PLUGIN_BENCH_GO_SLOW=$GOBUILD/bin/slow.
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/digitalrebar/logger"
	"github.com/digitalrebar/provision/v4/api"
	"github.com/digitalrebar/provision/v4/models"
	"github.com/digitalrebar/provision/v4/plugin"
)

var def = models.PluginProvider{
	Name:          "slow",
	Version:       "v1.0.0",
	PluginVersion: 4,
	AvailableActions: []models.AvailableAction{
		{Command: "wait_sync", OptionalParams: []string{"slow/seconds"}},
		{Command: "wait_async", OptionalParams: []string{"slow/seconds"}},
	},
}

type Plugin struct{}

func (p *Plugin) Config(l logger.Logger, session *api.Client, config map[string]interface{}) *models.Error {
	return nil
}

func (p *Plugin) Action(l logger.Logger, ma *models.Action) (interface{}, *models.Error) {
	seconds := 1.0
	if v, ok := ma.Params["slow/seconds"].(float64); ok {
		seconds = v
	}
	time.Sleep(time.Duration(seconds * float64(time.Second)))
	l.Infof("waited")
	return "waited", nil
}

func main() {
	plugin.InitApp("slow", "Actions that wait, for the concurrency bench", "v1.0.0", &def, &Plugin{})
	if err := plugin.App.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
