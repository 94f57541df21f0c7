// Command pause is the sandbox process of every pod on the test bed node: it holds the pod's
// namespaces open, exits on SIGINT or SIGTERM, and as the pod's first process reaps the
// orphans the kernel hands it, so no zombie outlives its container.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 16)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for received := range signals {
		if received == syscall.SIGCHLD {
			reapExited()
			continue
		}
		os.Exit(0)
	}
}

// reapExited collects every child that has exited; one SIGCHLD can stand for several.
func reapExited() {
	for {
		pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}
