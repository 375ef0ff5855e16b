package tracker_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities/tracker"
)

// Realistic log tails: each pair is the same failure seen in two waves, with different
// store hashes, dependency versions, build directories, times, PIDs and line numbers.

const gccWave1 = `error: builder for '/nix/store/0c7ph6wdzxlrh1gpvk6f8dqg2mjyq2ia-libfoo-1.2.3.drv' failed with exit code 2;
       last 12 log lines:
       > gcc -DHAVE_CONFIG_H -I. -I/nix/store/3n58xw4373jp0ljirf06d8077j15pc4j-zlib-1.3.1-dev/include -O2 -c foo.c -o foo.o
       > foo.c: In function 'foo_init':
       > foo.c:123:17: error: implicit declaration of function 'bar' [-Wimplicit-function-declaration]
       >   123 |     int x = bar(y);
       >       |                 ^~~
       > make[2]: *** [Makefile:456: foo.o] Error 1
       > make[2]: Leaving directory '/build/libfoo-1.2.3/src'
       > make[1]: *** [Makefile:789: all-recursive] Error 1
       > make[1]: Leaving directory '/build/libfoo-1.2.3'
       > make: *** [Makefile:345: all] Error 2
       For full logs, run 'nix log /nix/store/0c7ph6wdzxlrh1gpvk6f8dqg2mjyq2ia-libfoo-1.2.3.drv'.`

const gccWave2 = `error: builder for '/nix/store/9ad2hv3ngm6gk0l0rm1y6iy4q9mlw3m1-libfoo-1.2.4.drv' failed with exit code 2;
       last 25 log lines:
       > checking for zlib.h... yes
       > config.status: creating Makefile
       > gcc -DHAVE_CONFIG_H -I. -I/nix/store/kq9ciiwzm4wx5q2s0z8cpakrgj6nbs9w-zlib-1.3.2-dev/include -O2 -c foo.c -o foo.o
       > foo.c: In function 'foo_init':
       > foo.c:131:17: error: implicit declaration of function 'bar' [-Wimplicit-function-declaration]
       >   131 |     int x = bar(y);
       >       |                 ^~~
       > make[3]: *** [Makefile:460: foo.o] Error 1
       > make[3]: Leaving directory '/build/libfoo-1.2.4/src'
       > make[1]: *** [Makefile:801: all-recursive] Error 1
       > make[1]: Leaving directory '/build/libfoo-1.2.4'
       > make: *** [Makefile:349: all] Error 2
       For full logs, run 'nix log /nix/store/9ad2hv3ngm6gk0l0rm1y6iy4q9mlw3m1-libfoo-1.2.4.drv'.`

// The same package failing to link instead: another root cause.
const gccLinkError = `error: builder for '/nix/store/0c7ph6wdzxlrh1gpvk6f8dqg2mjyq2ia-libfoo-1.2.3.drv' failed with exit code 2;
       last 5 log lines:
       > gcc -o foo foo.o -L/nix/store/3n58xw4373jp0ljirf06d8077j15pc4j-zlib-1.3.1/lib -lz
       > /nix/store/w0kj1b6vh7rwvd7r4z8cc2gy5gfmvkya-binutils-2.42/bin/ld: foo.o: in function 'foo_init':
       > foo.c:(.text+0x1a): undefined reference to 'bar'
       > collect2: error: ld returned 1 exit status
       > make: *** [Makefile:345: all] Error 2
       For full logs, run 'nix log /nix/store/0c7ph6wdzxlrh1gpvk6f8dqg2mjyq2ia-libfoo-1.2.3.drv'.`

const pytestWave1 = "python3.12-httpclient> ============================= test session starts ==============================\n" +
	"python3.12-httpclient> platform linux -- Python 3.12.4, pytest-8.2.2, pluggy-1.5.0\n" +
	"python3.12-httpclient> rootdir: /build/source\n" +
	"python3.12-httpclient> Using --randomly-seed=2848377731\n" +
	"python3.12-httpclient> collected 245 items\n" +
	"python3.12-httpclient> tests/test_client.py ........F.....                                     [  6%]\n" +
	"python3.12-httpclient> =================================== FAILURES ===================================\n" +
	"python3.12-httpclient> ___________________________ test_timeout_handling ____________________________\n" +
	"python3.12-httpclient> tmp_path = PosixPath('/build/pytest-of-nixbld1/pytest-0/test_timeout_handling0')\n" +
	"python3.12-httpclient>     def test_timeout_handling(tmp_path):\n" +
	"python3.12-httpclient> >       assert client.get(url, timeout=0.1).status == 504\n" +
	"python3.12-httpclient> E       AssertionError: assert 200 == 504\n" +
	"python3.12-httpclient> tests/test_client.py:88: AssertionError\n" +
	"python3.12-httpclient> =========================== short test summary info ============================\n" +
	"python3.12-httpclient> FAILED tests/test_client.py::test_timeout_handling - AssertionError: assert 200 == 504\n" +
	"python3.12-httpclient> ======================== 1 failed, 244 passed in 12.34s =========================\n" +
	"error: builder for '/nix/store/b4lmrsr1ax1k2bnxlfv5vgmp2cmpb5r9-python3.12-httpclient-0.27.0.drv' failed with exit code 1"

const pytestWave2 = "python3.12-httpclient> ============================= test session starts ==============================\n" +
	"python3.12-httpclient> platform linux -- Python 3.12.5, pytest-8.3.1, pluggy-1.5.0\n" +
	"python3.12-httpclient> rootdir: /build/source\n" +
	"python3.12-httpclient> Using --randomly-seed=117043\n" +
	"python3.12-httpclient> collected 251 items\n" +
	"python3.12-httpclient> tests/test_client.py ..........F....                                    [  5%]\n" +
	"python3.12-httpclient> =================================== FAILURES ===================================\n" +
	"python3.12-httpclient> ___________________________ test_timeout_handling ____________________________\n" +
	"python3.12-httpclient> tmp_path = PosixPath('/build/pytest-of-nixbld7/pytest-3/test_timeout_handling0')\n" +
	"python3.12-httpclient>     def test_timeout_handling(tmp_path):\n" +
	"python3.12-httpclient> >       assert client.get(url, timeout=0.1).status == 504\n" +
	"python3.12-httpclient> E       AssertionError: assert 200 == 504\n" +
	"python3.12-httpclient> tests/test_client.py:91: AssertionError\n" +
	"python3.12-httpclient> =========================== short test summary info ============================\n" +
	"python3.12-httpclient> FAILED tests/test_client.py::test_timeout_handling - AssertionError: assert 200 == 504\n" +
	"python3.12-httpclient> =================== 1 failed, 250 passed, 1 skipped in 9.87s ===================\n" +
	"error: builder for '/nix/store/7zv0wq5hdd2d7r5nrf1j0l8mvxq9kjhz-python3.12-httpclient-0.27.2.drv' failed with exit code 1"

const rustWave1 = "\x1b[31;1mtest tests::parse_config ... FAILED\x1b[0m\n" +
	"failures:\n" +
	"---- tests::parse_config stdout ----\n" +
	"thread 'tests::parse_config' panicked at src/config.rs:142:9:\n" +
	"assertion `left == right` failed\n" +
	"  left: 3\n" +
	" right: 4\n" +
	"note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n" +
	"test result: FAILED. 57 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.42s\n" +
	"error: test failed, to rerun pass `--lib`\n"

const rustWave2 = "test tests::parse_config ... FAILED\n" +
	"failures:\n" +
	"---- tests::parse_config stdout ----\n" +
	"thread 'tests::parse_config' panicked at src/config.rs:150:13:\n" +
	"assertion `left == right` failed\n" +
	"  left: 3\n" +
	" right: 4\n" +
	"note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n" +
	"test result: FAILED. 61 passed; 1 failed; 2 ignored; 0 measured; 0 filtered out; finished in 1.07s\n" +
	"error: test failed, to rerun pass `--lib`\r\n"

const segfaultWave1 = `[2024-06-01T12:34:56.789Z] INFO starting worker pid=12345
Fatal Python error: Segmentation fault
Current thread 0x00007f3a2b4c5740 (most recent call first):
  File "/nix/store/fqkkb3v4bdyl3w0y8mqn4mhvdvw9rkab-python3-3.12.4/lib/python3.12/site-packages/imgtool/core.py", line 77 in run
  File "/tmp/tmp.Xq3vB8k2/run.py", line 12 in <module>
/nix/store/r9h133c9m8f6jnlsqzwf89zg9w0w78s8-bash-5.2p26/bin/bash: line 1: 12345 Segmentation fault      (core dumped) python -m imgtool.selftest
build started at 12:34:50, failed after 6.2 seconds`

const segfaultWave2 = `[2024-07-15T08:01:02Z] INFO starting worker pid=987
Fatal Python error: Segmentation fault
Current thread 0x00007fe81c0d2b80 (most recent call first):
  File "/nix/store/lq8pbdv6cg1yx7pd3x2rk1cg4xkz2wbz-python3-3.12.5/lib/python3.12/site-packages/imgtool/core.py", line 79 in run
  File "/tmp/tmp.P0aZ9e1c/run.py", line 12 in <module>
/nix/store/0b5w4p1m1q8c5hghl6kl6kpd9m1xx8pi-bash-5.2p32/bin/bash: line 1:   987 Segmentation fault      (core dumped) python -m imgtool.selftest
build started at 08:00:55, failed after 7 seconds`

const hashMismatchWave1 = `error: hash mismatch in fixed-output derivation '/nix/store/6h1m3b0pm36y4z7h1n7q2mf6wykb5fgs-source.drv':
         specified: sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=
            got:    sha256-3Yh9LqXnW8vVb0pTq2WmM0aQkYQfF0mX4uZcK1s9R2E=
error: 1 dependencies of derivation '/nix/store/lhl2ksgqbsyvpa7hq5rkbdnbyfz2y3hm-vendortool-2.1.0.drv' failed to build`

const hashMismatchWave2 = `error: hash mismatch in fixed-output derivation '/nix/store/zz2hwm4n0v9d6kq5ylh1wqqk1xbv4sj0-source.drv':
         specified: sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=
            got:    sha256-9pQ2r7B1xY3n0mW6zK8fT4cV5bN2hJ7gD1sA0eL3uIo=
error: 1 dependencies of derivation '/nix/store/q7a1yz8b6wcm5rj1d2x4fkgs0h9ll3pn-vendortool-2.1.1.drv' failed to build`

const goTestWave1 = `--- FAIL: TestServeTLS (0.03s)
    server_test.go:214: handshake: remote error: tls: bad certificate
FAIL
FAIL	example.com/srv/internal/server	0.412s
FAIL
error: builder for '/nix/store/hhwqyv1cz0m6a5d1kq9gr9pgq9ym5l8v-srv-0.9.0.drv' failed with exit code 1`

const goTestWave2 = `=== RUN   TestServeTLS
--- FAIL: TestServeTLS (0.05s)
    server_test.go:219: handshake: remote error: tls: bad certificate
FAIL
FAIL	example.com/srv/internal/server	1.108s
FAIL
error: builder for '/nix/store/y1l6p4g3kc2y6iw0jx8i3v6c3d8q8q3n-srv-0.9.0.drv' failed with exit code 1`

const noErrorWords = `building
running install tests
all 12 checks ran
exit status 3`

func TestFingerprintSameFailureAcrossWaves(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, pkg, a, b string
	}{
		{"gcc compile error, new hashes, versions, line numbers", "libfoo", gccWave1, gccWave2},
		{"pytest failure, new seed, counts, timing, tmp path", "python312Packages.httpclient", pytestWave1, pytestWave2},
		{"rust panic, colours, counts, CRLF", "ripconf", rustWave1, rustWave2},
		{"segfault, pid, addresses, timestamps, tmp dirs", "python312Packages.imgtool", segfaultWave1, segfaultWave2},
		{"hash mismatch with another got-hash", "vendortool", hashMismatchWave1, hashMismatchWave2},
		{"go test failure, new durations", "srv", goTestWave1, goTestWave2},
		{"longer tail of the same failure", "libfoo", gccWave1, strings.Repeat("> checking for something... yes\n", 200) + gccWave1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tracker.Signature(tt.a), tracker.Signature(tt.b))
			require.Equal(t, tracker.Fingerprint(tt.pkg, tt.a), tracker.Fingerprint(tt.pkg, tt.b))
		})
	}
}

func TestFingerprintDistinguishes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		pkgA, logA string
		pkgB, logB string
	}{
		{"compile error vs link error", "libfoo", gccWave1, "libfoo", gccLinkError},
		{"same log, other package", "libfoo", gccWave1, "libbar", gccWave1},
		{"other failing test", "srv", goTestWave1, "srv", strings.ReplaceAll(goTestWave1, "TestServeTLS", "TestServeH2")},
		{"other assertion", "python312Packages.httpclient", pytestWave1, "python312Packages.httpclient", strings.ReplaceAll(pytestWave1, "200 == 504", "500 == 504")},
		{"other error, no error words", "x", noErrorWords, "x", strings.ReplaceAll(noErrorWords, "exit status 3", "exit status 4")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.NotEqual(t, tracker.Fingerprint(tt.pkgA, tt.logA), tracker.Fingerprint(tt.pkgB, tt.logB))
		})
	}
}

func TestSignature(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, log, want string
	}{
		{
			name: "gcc",
			log:  gccWave1,
			want: strings.Join([]string{
				"error: builder for '<store>/libfoo-<v>.drv' failed with exit code 2;",
				"foo.c:<n>:<n>: error: implicit declaration of function 'bar' [-Wimplicit-function-declaration]",
				"make: *** [Makefile:<n>: all] Error 2",
				"make[<n>]: *** [Makefile:<n>: all-recursive] Error 1",
				"make[<n>]: *** [Makefile:<n>: foo.o] Error 1",
			}, "\n"),
		},
		{
			name: "segfault",
			log:  segfaultWave1,
			want: strings.Join([]string{
				"<store>/bash-<v>/bin/bash: line <n>: <n> Segmentation fault (core dumped) python -m imgtool.selftest",
				"Fatal Python error: Segmentation fault",
				"build started at <time>, failed after <dur>",
			}, "\n"),
		},
		{
			name: "hash mismatch",
			log:  hashMismatchWave1,
			want: strings.Join([]string{
				"error: <n> dependencies of derivation '<store>/vendortool-<v>.drv' failed to build",
				"error: hash mismatch in fixed-output derivation '<store>/source.drv':",
			}, "\n"),
		},
		{
			name: "no error words: the tail, in order",
			log:  noErrorWords,
			want: "building\nrunning install tests\nall 12 checks ran\nexit status 3",
		},
		{
			name: "hex digests, uuids and darwin temp dirs",
			log:  "error: cannot open /private/var/folders/9x/k2l_3h1s0vd4/T/nix-build-foo.drv-0/x: commit 4f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39 request 123e4567-e89b-12d3-a456-426614174000",
			want: "error: cannot open <builddir>/x: commit <hex> request <uuid>",
		},
		{
			name: "empty",
			log:  "\n\n  \n",
			want: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, tracker.Signature(tt.log))
		})
	}
}

func TestFingerprintShape(t *testing.T) {
	t.Parallel()
	fp := tracker.Fingerprint("libfoo", gccWave1)
	require.Len(t, fp, 32)
	require.NoError(t, tracker.ValidateKey("fingerprint", fp))
	require.Equal(t, fp, tracker.Fingerprint("libfoo", gccWave1), "deterministic")
}
