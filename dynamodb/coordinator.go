package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb" // the SDK: its name is this package's
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/s3vfs/s3vfs/internal/commitlog"
	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/store"
)

// maxInlineRecord bounds a record kept in a DynamoDB item (whose limit is
// 400 KB): a commit whose record would be larger writes a checkpoint and
// an empty delta instead.
const maxInlineRecord = 350 << 10

// Coordinator keeps the commit records of every database of a VFS in one
// DynamoDB table: an s3vfs.Coordinator, for s3vfs.Options.Coordinator.
// Make one with [NewCoordinator].
type Coordinator struct {
	client *dynamodb.Client
	table  string
}

// NewCoordinator returns a coordinator that keeps the commit records of
// every database of a VFS in the DynamoDB table (see [CreateTable]), for
// s3vfs.Options.Coordinator. Every process that writes a database must
// use the same table.
func NewCoordinator(client *dynamodb.Client, table string) *Coordinator {
	return &Coordinator{client: client, table: table}
}

// Name returns "DynamoDB table T": how messages name the coordinator, and
// the text of the marker a database it keeps leaves in its bucket (which
// must never change: processes of other versions compare it).
func (c *Coordinator) Name() string { return "DynamoDB table " + c.table }

// URI returns "dynamodb&table=T": the coordinator as the URI parameter
// coordinator= names it.
func (c *Coordinator) URI() string { return "dynamodb&table=" + c.table }

// MaxRecordSize returns the size of the largest record an item keeps,
// 350 KiB: a commit whose record would be larger writes a checkpoint.
func (c *Coordinator) MaxRecordSize() int { return maxInlineRecord }

// Records returns the records of the table, for a VFS of bucket (named in
// the fix of a missing table's error).
func (c *Coordinator) Records(bucket string) commitlog.Log {
	return dynamoRecords{client: c.client, table: c.table, bucket: bucket}
}

// dynamoRecords keeps records in a DynamoDB table: the commitlog.Log of
// a Coordinator.
type dynamoRecords struct {
	client *dynamodb.Client
	table  string
	bucket string // the bucket of the VFS, named in the fix of a missing table
}

var _ commitlog.Log = dynamoRecords{}

// CreateTable creates the table a [Coordinator] uses (on-demand capacity)
// and waits until it is active. A table that exists already with the
// right key schema is not an error.
func CreateTable(ctx context.Context, client *dynamodb.Client, table string) error {
	_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
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
	})
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("s3vfs: create DynamoDB table %s: %w", table, err)
	}
	w := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, 2*time.Second
	})
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}, 2*time.Minute); err != nil {
		return fmt.Errorf("s3vfs: DynamoDB table %s did not become active: %w", table, err)
	}
	return nil
}

func (d dynamoRecords) itemKey(key string, n uint64) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"db": &types.AttributeValueMemberS{Value: key},
		"n":  &types.AttributeValueMemberN{Value: strconv.FormatUint(n, 10)},
	}
}

// Create is a conditional PutItem, its item's time taken by the writer's
// clock right before it.
func (d dynamoRecords) Create(ctx context.Context, key string, n uint64, data []byte) error {
	item := d.itemKey(key, n)
	item["record"] = &types.AttributeValueMemberB{Value: data}
	item["size"] = &types.AttributeValueMemberN{Value: strconv.Itoa(len(data))}
	item["created"] = &types.AttributeValueMemberN{Value: strconv.FormatInt(time.Now().UnixNano(), 10)}
	_, err := d.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(d.table),
		Item:                item,
		ConditionExpression: aws.String("attribute_not_exists(n)"),
	})
	return d.wrap("create", key, n, err)
}

// Get is a strongly consistent GetItem.
func (d dynamoRecords) Get(ctx context.Context, key string, n uint64) ([]byte, error) {
	out, err := d.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(d.table),
		Key:            d.itemKey(key, n),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, d.wrap("get", key, n, err)
	}
	if out.Item == nil {
		return nil, d.wrap("get", key, n, store.ErrNotFound)
	}
	b, ok := out.Item["record"].(*types.AttributeValueMemberB)
	if !ok {
		return nil, d.wrap("get", key, n, fmt.Errorf("%w: the item has no binary attribute \"record\"", format.ErrCorrupt))
	}
	return b.Value, nil
}

// Newest is a strongly consistent Query of one item, newest first.
func (d dynamoRecords) Newest(ctx context.Context, key string) (uint64, error) {
	out, err := d.client.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(d.table),
		KeyConditionExpression:    aws.String("db = :k"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":k": &types.AttributeValueMemberS{Value: key}},
		ScanIndexForward:          aws.Bool(false),
		Limit:                     aws.Int32(1),
		ConsistentRead:            aws.Bool(true),
		ProjectionExpression:      aws.String("n"),
	})
	if err != nil {
		return 0, d.wrap("query", key, 0, err)
	}
	if len(out.Items) == 0 {
		return 0, nil
	}
	return itemNumber(out.Items[0], "n")
}

// List is a strongly consistent Query, page by page.
func (d dynamoRecords) List(ctx context.Context, key string, fn func(n uint64, size int64, created time.Time) error) error {
	p := dynamodb.NewQueryPaginator(d.client, &dynamodb.QueryInput{
		TableName:                 aws.String(d.table),
		KeyConditionExpression:    aws.String("db = :k"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":k": &types.AttributeValueMemberS{Value: key}},
		ConsistentRead:            aws.Bool(true),
		ProjectionExpression:      aws.String("#n, #s, #c"), // "size" is a reserved word
		ExpressionAttributeNames:  map[string]string{"#n": "n", "#s": "size", "#c": "created"},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return d.wrap("query", key, 0, err)
		}
		for _, item := range page.Items {
			n, err := itemNumber(item, "n")
			if err != nil {
				return err
			}
			size, _ := itemNumber(item, "size")
			created, _ := itemNumber(item, "created")
			if err := fn(n, int64(size), time.Unix(0, int64(created))); err != nil {
				return err
			}
		}
	}
	return nil
}

// Overwrite is a conditional UpdateItem of the record's bytes and size;
// its creation time stays. A missing record is ErrNotFound.
func (d dynamoRecords) Overwrite(ctx context.Context, key string, n uint64, data []byte) error {
	_, err := d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(d.table),
		Key:                      d.itemKey(key, n),
		UpdateExpression:         aws.String("SET #r = :r, #s = :s"),
		ConditionExpression:      aws.String("attribute_exists(n)"),
		ExpressionAttributeNames: map[string]string{"#r": "record", "#s": "size"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":r": &types.AttributeValueMemberB{Value: data},
			":s": &types.AttributeValueMemberN{Value: strconv.Itoa(len(data))},
		},
	})
	var cond *types.ConditionalCheckFailedException
	if errors.As(err, &cond) {
		err = store.ErrNotFound
	}
	return d.wrap("overwrite", key, n, err)
}

// Remove is BatchWriteItem in batches of 25, throttled items tried again.
func (d dynamoRecords) Remove(ctx context.Context, key string, ns []uint64) error {
	for len(ns) > 0 {
		batch := ns[:min(len(ns), 25)] // BatchWriteItem's limit
		ns = ns[len(batch):]
		reqs := make([]types.WriteRequest, len(batch))
		for i, n := range batch {
			reqs[i] = types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: d.itemKey(key, n)}}
		}
		for attempt := 0; len(reqs) > 0; attempt++ {
			if attempt > 0 {
				select {
				case <-time.After(time.Duration(min(attempt, 10)) * 50 * time.Millisecond):
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			out, err := d.client.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
				RequestItems: map[string][]types.WriteRequest{d.table: reqs},
			})
			if err != nil {
				return d.wrap("delete", key, batch[0], err)
			}
			reqs = out.UnprocessedItems[d.table] // throttled: try them again
		}
	}
	return nil
}

// itemNumber reads the number attribute name of an item.
func itemNumber(item map[string]types.AttributeValue, name string) (uint64, error) {
	v, ok := item[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0, fmt.Errorf("%w: a DynamoDB item has no number attribute %q", format.ErrCorrupt, name)
	}
	return strconv.ParseUint(v.Value, 10, 64)
}

// wrap names the operation, table, database and record, and classifies
// the DynamoDB error as the bucket's are (internal/store's classify).
func (d dynamoRecords) wrap(op, key string, n uint64, err error) error {
	if err == nil {
		return nil
	}
	var kind error
	var cond *types.ConditionalCheckFailedException
	var missing *types.ResourceNotFoundException
	var api smithy.APIError
	switch {
	case errors.Is(err, store.ErrNotFound) || errors.Is(err, format.ErrCorrupt):
	case errors.As(err, &cond):
		kind = store.ErrExists
	case errors.As(err, &missing):
		err = fmt.Errorf("%w (create the table with s3vfs/dynamodb.CreateTable, or: s3vfs doctor --dynamodb-table %s --create-table s3://%s)", err, d.table, d.bucket)
	case errors.As(err, &api):
		switch api.ErrorCode() {
		case "AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException":
			kind = store.ErrAccessDenied
		}
	}
	if kind != nil {
		err = store.WithKind(kind, err)
	}
	return fmt.Errorf("s3vfs: %s record %d of %s in DynamoDB table %s: %w", op, n, key, d.table, err)
}
