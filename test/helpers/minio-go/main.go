package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// A real minio-go 7 client (Debian golang-github-minio-minio-go-v7-dev, built in GOPATH mode by
// test/helpers/minio-go.ts). usage: minio-go ENDPOINT(host:port) ACCESS SECRET BUCKET KEY SIZE [REGION]
// REGION "-": none, so minio-go asks GetBucketLocation first and signs for what it answers.
func main() {
	a := os.Args[1:]
	size, _ := strconv.Atoi(a[5])
	region := "us-east-1"
	if len(a) > 6 {
		region = a[6]
	}
	if region == "-" {
		region = ""
	}
	c, err := minio.New(a[0], &minio.Options{Creds: credentials.NewStaticV4(a[1], a[2], ""), Secure: false, Region: region, BucketLookup: minio.BucketLookupPath})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	data := make([]byte, size)
	rand.Read(data)
	// size -1: minio-go's streaming upload (multipart with per-part checksums, crc32c on complete)
	info, err := c.PutObject(context.Background(), a[3], a[4], bytes.NewReader(data), -1, minio.PutObjectOptions{PartSize: 5 << 20})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	obj, err := c.GetObject(context.Background(), a[3], a[4], minio.GetObjectOptions{})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	got, err := io.ReadAll(obj)
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	fmt.Printf("OK size=%d same=%v etag=%s\n", info.Size, bytes.Equal(got, data), info.ETag)
}
