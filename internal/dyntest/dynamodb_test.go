package dyntest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TestStart starts a server and checks the guarantees the library relies
// on: conditional writes that refuse to overwrite, strongly consistent
// reads, and numeric ordering of the sort key in a descending query.
func TestStart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	start := time.Now()
	srv, err := Start(ctx, func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) })
	if err != nil {
		t.Fatalf("no DynamoDB server for the tests: %v", err)
	}
	defer srv.Close()
	t.Logf("server at %s ready in %v", srv.Endpoint, time.Since(start).Round(time.Millisecond))

	c := srv.Client()
	table := srv.NewTableName()
	if _, err := c.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: aws.String(table),
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("db"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("n"), AttributeType: types.ScalarAttributeTypeN},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String("db"), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String("n"), KeyType: types.KeyTypeRange},
		},
		BillingMode: types.BillingModePayPerRequest,
	}); err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	w := dynamodb.NewTableExistsWaiter(c, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 50 * time.Millisecond
		o.MaxDelay = time.Second
	})
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}, time.Minute); err != nil {
		t.Fatalf("waiting for table %s: %v", table, err)
	}

	item := func(n int, v string) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{
			"db": &types.AttributeValueMemberS{Value: "main.db"},
			"n":  &types.AttributeValueMemberN{Value: fmt.Sprint(n)},
			"v":  &types.AttributeValueMemberS{Value: v},
		}
	}
	put := func(n int, v string) error {
		_, err := c.PutItem(ctx, &dynamodb.PutItemInput{
			TableName:           aws.String(table),
			Item:                item(n, v),
			ConditionExpression: aws.String("attribute_not_exists(n)"),
		})
		return err
	}

	if err := put(2, "first"); err != nil {
		t.Fatalf("first conditional PutItem: %v", err)
	}
	err = put(2, "second")
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		t.Fatalf("second conditional PutItem of the same key: got %v (%T), want ConditionalCheckFailedException", err, err)
	}

	got, err := c.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(table),
		Key:            map[string]types.AttributeValue{"db": item(2, "")["db"], "n": item(2, "")["n"]},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("GetItem: %v", err)
	}
	if v, ok := got.Item["v"].(*types.AttributeValueMemberS); !ok || v.Value != "first" {
		t.Fatalf("GetItem after refused overwrite: got %v, want v=first", got.Item)
	}

	// 10 sorts after 7 and 2 only if n is compared as a number.
	for _, n := range []int{10, 7} {
		if err := put(n, fmt.Sprint("item ", n)); err != nil {
			t.Fatalf("PutItem n=%d: %v", n, err)
		}
	}
	q, err := c.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(table),
		KeyConditionExpression:    aws.String("db = :db"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":db": &types.AttributeValueMemberS{Value: "main.db"}},
		ScanIndexForward:          aws.Bool(false),
		Limit:                     aws.Int32(1),
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("Query: %v", err)
	}
	if len(q.Items) != 1 {
		t.Fatalf("Query with Limit=1: got %d items, want 1", len(q.Items))
	}
	if n, ok := q.Items[0]["n"].(*types.AttributeValueMemberN); !ok || n.Value != "10" {
		t.Fatalf("Query descending: got %v, want n=10", q.Items[0])
	}

	// Close must stop the process this Server started.
	srv.Close()
	if srv.proc != nil && srv.proc.State() == nil {
		t.Fatal("dynalite still running after Close")
	}
}

// A client that dies with half a request on the wire (a writer SIGKILLed
// by a test) must not take the server down for the tests after it.
func TestClientDiesMidRequest(t *testing.T) {
	if os.Getenv(EnvEndpoint) != "" {
		t.Skipf("%s names an external server; this checks the dynalite this package starts", EnvEndpoint)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv, err := Start(ctx, nil)
	if err != nil {
		t.Fatalf("no DynamoDB server for the tests: %v", err)
	}
	defer srv.Close()
	u, err := url.Parse(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		conn, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-amz-json-1.0\r\n"+
			"Content-Length: 1000\r\n\r\n{\"TableName\":", u.Host)
		// Linger 0: close with a reset, as the kernel does for a killed process.
		conn.(*net.TCPConn).SetLinger(0)
		conn.Close()
	}
	// The reset reaches the server asynchronously; give it the time to act
	// on it before asking whether it is still there.
	time.Sleep(300 * time.Millisecond)
	if _, err := srv.Client().ListTables(ctx, &dynamodb.ListTablesInput{}); err != nil {
		t.Fatalf("server gone after a client died mid-request: %v\n%s", err, srv.proc.Output())
	}
	if out := srv.proc.Output(); !strings.Contains(out, "went away mid-request") {
		t.Fatalf("the server did not see the aborted requests; its output:\n%s", out)
	}
}
