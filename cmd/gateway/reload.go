package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/legalgate/legalgate/internal/config"
	"github.com/legalgate/legalgate/internal/metrics"
)

// reloader takes a changed configuration into force without a restart, on
// SIGHUP and when the config file changes. A reload reads and validates the
// whole file (config.Load: secrets from ${ENV} and file: read again), then
// swaps what can change live (app.apply): tenants, keys, credentials and
// their secrets, allocations and credential limits, credential rates,
// fair-share caps and rates. Requests in flight, parked long polls and
// running FSSP tasks keep what they started with. A file that does not
// load or validate is refused with one log line and the failure metric, and
// the configuration in force keeps serving. Settings that cannot change
// live (listen addresses, Redis, upstream URLs, timeouts...) are named in
// the log line when they differ, and keep their start-up values.
type reloader struct {
	path     string // "" (the demo): nothing to reload
	getenv   func(string) string
	override func(*config.Config) // the command line's -addr and -admin-addr
	apply    func(*config.Config, uint64) error
	log      *slog.Logger
	metrics  *metrics.ConfigReload
	debounce time.Duration // how long a burst of file events is waited out

	current    *config.Config // in force; only run's goroutine uses it
	generation uint64

	watcher *fsnotify.Watcher // nil: the file is not watched (SIGHUP only)
	watched map[string]bool   // directories added to watcher
}

// run reloads on each signal from hup and each change of the file until
// ctx ends. It watches the file's directory, not the file (editors replace
// a file by renaming another over it, and Kubernetes swaps a ConfigMap's
// files by moving a symbolic link), and the directories of the secret files
// the file names, at start-up and after each reload (a reload may name a
// secret in a directory of its own).
func (r *reloader) run(ctx context.Context, hup <-chan os.Signal) error {
	var events <-chan fsnotify.Event
	var errs <-chan error
	if r.path != "" {
		w, err := fsnotify.NewWatcher()
		if err == nil {
			defer w.Close()
			err = w.Add(filepath.Dir(r.path))
			events, errs = w.Events, w.Errors
		}
		if err != nil {
			r.log.Error("config file not watched: reload with SIGHUP", "path", r.path, "error", err.Error())
		} else {
			r.watcher, r.watched = w, map[string]bool{filepath.Dir(r.path): true}
			r.watchSecrets(false)
		}
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-hup:
			r.reload("SIGHUP")
		case _, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			// Any change in the directory (a secret file beside the config
			// too): the file is read once the burst is over and taken only
			// when what it says differs.
			timer.Reset(r.debounce)
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			r.log.Warn("config file watch", "path", r.path, "error", err.Error())
		case <-timer.C:
			r.reload("file changed")
		}
	}
}

// watchSecrets adds to the watcher the directories of the secret files the
// config file names (a mounted Kubernetes Secret) that it does not watch
// yet. A directory that cannot be watched is tried again at the next
// reload, and logged unless quiet (a refused reload logs one line).
func (r *reloader) watchSecrets(quiet bool) {
	if r.watcher == nil {
		return
	}
	for _, f := range config.SecretFiles(r.path) {
		dir := filepath.Dir(f)
		if r.watched[dir] {
			continue
		}
		if err := r.watcher.Add(dir); err != nil {
			if quiet {
				continue
			}
			r.log.Warn("secret file's directory not watched: reload with SIGHUP after changing it", "dir", dir, "error", err.Error())
			continue
		}
		r.watched[dir] = true
	}
}

// reload loads the file and, when it differs from the configuration in
// force, takes it into force or refuses it.
func (r *reloader) reload(trigger string) {
	if r.path == "" {
		r.log.Info("config reload asked: no config file (the demo), nothing to reload", "trigger", trigger)
		return
	}
	// The file may name secrets in new directories, even one it is refused
	// for (a secret file not there yet): watch them from now on.
	r.watchSecrets(true)
	next, err := config.Load(r.path, r.getenv)
	var fixed []string
	if err == nil {
		r.override(next)
		fixed = fixedChanges(r.current, next)
		// What cannot change live stays as it started.
		next = keepFixed(r.current, next)
		if reflect.DeepEqual(next, r.current) {
			if trigger == "SIGHUP" || len(fixed) > 0 {
				r.log.Info("config reload: nothing that can change live changed", r.attrs(trigger, fixed)...)
			}
			return
		}
		err = r.apply(next, r.generation+1)
	}
	if err != nil {
		r.metrics.Refused()
		r.log.Error("config reload refused: the configuration in force keeps serving",
			append(r.attrs(trigger, nil), "error", err.Error())...)
		return
	}
	r.generation++
	r.current = next
	r.metrics.Loaded(time.Now(), true)
	r.log.Info("config reloaded", r.attrs(trigger, fixed)...)
	r.watchSecrets(false)
}

// attrs are a reload log line's attributes.
func (r *reloader) attrs(trigger string, fixed []string) []any {
	a := []any{"trigger", trigger, "path", r.path, "generation", r.generation}
	if len(fixed) > 0 {
		a = append(a, "restart_needed_for", strings.Join(fixed, ", "))
	}
	return a
}

// live lists the top-level sections a reload takes into force.
var live = []string{"credentials", "tenants", "fairness"}

// fixedChanges names the settings of next that differ from cur and that a
// reload does not take into force: top-level sections other than the live
// ones, and an upstream that starts or stops being used (its client is
// built at start-up only).
func fixedChanges(cur, next *config.Config) []string {
	var out []string
	cv, nv := reflect.ValueOf(cur).Elem(), reflect.ValueOf(next).Elem()
	for i := range cv.NumField() {
		name, _, _ := strings.Cut(cv.Type().Field(i).Tag.Get("yaml"), ",")
		if slices.Contains(live, name) {
			continue
		}
		if !reflect.DeepEqual(cv.Field(i).Interface(), nv.Field(i).Interface()) {
			out = append(out, name)
		}
	}
	for _, up := range cur.Upstreams.Names() {
		if cur.Uses(up) != next.Uses(up) {
			out = append(out, "upstream "+up+" in use")
		}
	}
	return out
}

// keepFixed is next with the settings a reload does not change taken from
// cur.
func keepFixed(cur, next *config.Config) *config.Config {
	out := *cur
	ov, nv := reflect.ValueOf(&out).Elem(), reflect.ValueOf(next).Elem()
	for i := range ov.NumField() {
		name, _, _ := strings.Cut(ov.Type().Field(i).Tag.Get("yaml"), ",")
		if slices.Contains(live, name) {
			ov.Field(i).Set(nv.Field(i))
		}
	}
	return &out
}
