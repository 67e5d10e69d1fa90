// etcd_load - a load generator for etcd 3 through its own Go client
// (clientv3, native gRPC), the counterpart of redis-benchmark and
// `dht bench` in bench/vs_redis.py --with-etcd. A benchmark tool, not a
// test.
//
// C clients (one clientv3.Client, one gRPC connection each) run N puts
// of D-byte values over a keyspace of K random keys, then N gets of the
// same keys; it prints one JSON object with, per operation, ops_per_sec,
// p50_ms, p99_ms and errors (the shape `dht bench --json` prints).
//
// Build: GO111MODULE=off GOPATH=/usr/share/gocode go build (Debian's
// golang-go and golang-etcd-server-dev); bench/etcd_peer.py does it.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/clientv3"
)

type opReport struct {
	OpsPerSec float64 `json:"ops_per_sec"`
	P50Ms     float64 `json:"p50_ms"`
	P99Ms     float64 `json:"p99_ms"`
	Errors    int64   `json:"errors"`
}

func pct(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p * float64(len(sorted)-1))
	return float64(sorted[i].Microseconds()) / 1000.0
}

// run does n operations with c clients, each client taking every c-th.
func run(clients []*clientv3.Client, n int, keys []string, op func(*clientv3.Client, string) error) opReport {
	c := len(clients)
	lat := make([][]time.Duration, c)
	var errs int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			r := rand.New(rand.NewSource(int64(w) + 1))
			for i := w; i < n; i += c {
				k := keys[r.Intn(len(keys))]
				t0 := time.Now()
				if err := op(clients[w], k); err != nil {
					atomic.AddInt64(&errs, 1)
					continue
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}(w)
	}
	wg.Wait()
	took := time.Since(start).Seconds()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	return opReport{float64(len(all)) / took, pct(all, 0.50), pct(all, 0.99), errs}
}

func main() {
	endpoint := flag.String("endpoint", "127.0.0.1:2379", "etcd client URL host:port")
	c := flag.Int("c", 50, "clients (connections)")
	n := flag.Int("n", 100000, "operations of each kind")
	d := flag.Int("d", 16, "value bytes")
	keyspace := flag.Int("keyspace", 10000, "distinct keys")
	timeout := flag.Duration("timeout", 5*time.Second, "per-request timeout")
	serializable := flag.Bool("serializable", false, "gets read the member's copy (no quorum)")
	flag.Parse()

	clients := make([]*clientv3.Client, *c)
	for i := range clients {
		cli, err := clientv3.New(clientv3.Config{Endpoints: []string{*endpoint}, DialTimeout: 5 * time.Second})
		if err != nil {
			fmt.Fprintln(os.Stderr, "etcd_load: cannot connect:", err)
			os.Exit(3)
		}
		defer cli.Close()
		clients[i] = cli
	}
	keys := make([]string, *keyspace)
	for i := range keys {
		keys[i] = fmt.Sprintf("key:%012d", rand.Int63n(1e12))
	}
	value := string(make([]byte, *d))
	put := run(clients, *n, keys, func(cli *clientv3.Client, k string) error {
		ctx, cancel := context.WithTimeout(context.Background(), *timeout)
		defer cancel()
		_, err := cli.Put(ctx, k, value)
		return err
	})
	get := run(clients, *n, keys, func(cli *clientv3.Client, k string) error {
		ctx, cancel := context.WithTimeout(context.Background(), *timeout)
		defer cancel()
		var err error
		if *serializable {
			_, err = cli.Get(ctx, k, clientv3.WithSerializable())
		} else {
			_, err = cli.Get(ctx, k)
		}
		return err
	})
	out, _ := json.Marshal(map[string]opReport{"put": put, "get": get})
	fmt.Println(string(out))
}
