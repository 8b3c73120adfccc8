package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// config is what keyhaven login saves: where keyhaven is, the tenant, and the credential to
// call with. It lives in the user's configuration directory, readable by its owner only.
type config struct {
	URL    string `json:"url"`
	Tenant string `json:"tenant"`
	Token  string `json:"token,omitempty"`
}

// configPath is the file of the saved login: os.UserConfigDir()/keyhaven/config.json
// ($XDG_CONFIG_HOME or ~/.config on Linux).
func configPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no configuration directory to keep the login in: %w", err)
	}
	return filepath.Join(dir, "keyhaven", "config.json"), nil
}

// loadConfig reads the saved login; none saved is the zero config. A file others may write
// is refused: whoever can change it can send the token elsewhere.
func loadConfig() (config, error) {
	var c config
	path, err := configPath()
	if err != nil {
		return c, err
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("read the saved login: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return c, fmt.Errorf("read the saved login: %w", err)
	}
	if err := checkPrivate(path, fi); err != nil {
		return c, err
	}
	if err := json.NewDecoder(f).Decode(&c); err != nil {
		return c, fmt.Errorf("the saved login %s is not valid JSON; log in again (keyhaven login) after removing it", path)
	}
	return c, nil
}

// saveConfig writes the login to its file, mode 0600 in a directory of mode 0700. It never
// writes into a file or directory that others may write, and replaces the file whole (a new
// file renamed over it), so that a reader never sees half of it.
func saveConfig(c config) (string, error) {
	path, err := configPath()
	if err != nil {
		return "", err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("save the login: %w", err)
	}
	for _, p := range []string{dir, path} {
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("save the login: %w", err)
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return "", fmt.Errorf("refusing to save the login: %s is a symbolic link", p)
		}
		if err := checkPrivate(p, fi); err != nil {
			return "", err
		}
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp(dir, ".config-*.json") // mode 0600
	if err != nil {
		return "", fmt.Errorf("save the login: %w", err)
	}
	defer os.Remove(f.Name()) // gone once renamed
	if err := f.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		f.Close()
		return "", fmt.Errorf("save the login: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return "", fmt.Errorf("save the login: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", fmt.Errorf("save the login: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("save the login: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return "", fmt.Errorf("save the login: %w", err)
	}
	return path, nil
}

// checkPrivate refuses a file or directory that its group or others may write.
func checkPrivate(path string, fi fs.FileInfo) error {
	if runtime.GOOS == "windows" {
		return nil // no such mode bits
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("refusing to use %s: others may write it (mode %04o); make it private with chmod go-w %s",
			path, fi.Mode().Perm(), path)
	}
	return nil
}
