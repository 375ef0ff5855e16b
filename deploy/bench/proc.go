package bench

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is Linux's USER_HZ, the unit of /proc/<pid>/stat times.
const clockTick = 100

// procStat returns the fields of /proc/<pid>/stat after the command name.
func procStat(pid int) (comm string, fields []string, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", nil, false
	}
	s := string(b)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return "", nil, false
	}
	return s[open+1 : end], strings.Fields(s[end+1:]), true
}

// childrenOf lists the processes whose parent is pid (named comm, when set).
func childrenOf(pid int, comm string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		c, f, ok := procStat(p)
		if !ok || len(f) < 2 || f[1] != strconv.Itoa(pid) || (comm != "" && c != comm) {
			continue
		}
		out = append(out, p)
	}
	return out
}

// procCPU is a process's user and system time, with its reaped children's when asked.
func procCPU(pid int, children bool) time.Duration {
	_, f, ok := procStat(pid)
	// After the name: state(0) ppid(1) … utime(11) stime(12) cutime(13) cstime(14).
	if !ok || len(f) < 15 {
		return 0
	}
	var ticks int64
	idx := []int{11, 12}
	if children {
		idx = append(idx, 13, 14)
	}
	for _, i := range idx {
		n, _ := strconv.ParseInt(f[i], 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTick
}
