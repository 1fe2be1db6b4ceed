# Tagging, canned ACLs and GetBucketVersioning as boto3 (default settings) drives them. Prints one
# JSON object of what it saw; test/local/tagging-acl.test.ts runs it through s3gate against the
# local store and against Ceph RGW 16, and compares.
import os, json
from botocore.exceptions import ClientError
s3 = boto3.client('s3', endpoint_url=os.environ['EP'], region_name='us-east-1',
                  aws_access_key_id=os.environ['AK'], aws_secret_access_key=os.environ['SK'])
B = os.environ['BUCKET']
out = {}

def err(f):
    try:
        f()
        return 'ok'
    except ClientError as e:
        return [e.response['Error']['Code'], e.response['ResponseMetadata']['HTTPStatusCode']]

def grants(resp):
    g = []
    for x in resp['Grants']:
        who = x['Grantee'].get('URI', 'owner' if x['Grantee'].get('ID') == resp['Owner'].get('ID') else 'other')
        g.append([who.rsplit('/', 1)[-1], x['Permission']])
    return sorted(g)

def obj(k):
    r = s3.get_object(Bucket=B, Key=k)
    return [r['Body'].read().decode(), r['ContentType'], r['Metadata'], r.get('TagCount', 0)]

s3.create_bucket(Bucket=B) if os.environ.get("CREATE") else None
s3.put_object(Bucket=B, Key='k', Body=b'original bytes', ContentType='text/plain', Metadata={'color': 'blue'})
out['get_tagging_none'] = s3.get_object_tagging(Bucket=B, Key='k').get('TagSet', [])
s3.put_object_tagging(Bucket=B, Key='k', Tagging={'TagSet': [{'Key': 't1', 'Value': 'v1'}, {'Key': 'Project X', 'Value': 'a+b=c/d:e@f'}]})
out['get_tagging'] = sorted([t['Key'], t['Value']] for t in s3.get_object_tagging(Bucket=B, Key='k').get('TagSet', []))
out['after_put_tagging'] = obj('k')
out['eleven_tags'] = err(lambda: s3.put_object_tagging(Bucket=B, Key='k', Tagging={'TagSet': [{'Key': f'k{i}', 'Value': 'v'} for i in range(11)]}))
out['long_key'] = err(lambda: s3.put_object_tagging(Bucket=B, Key='k', Tagging={'TagSet': [{'Key': 'k' * 129, 'Value': 'v'}]}))
out['long_value'] = err(lambda: s3.put_object_tagging(Bucket=B, Key='k', Tagging={'TagSet': [{'Key': 'k', 'Value': 'v' * 257}]}))
out['duplicate_key'] = err(lambda: s3.put_object_tagging(Bucket=B, Key='k', Tagging={'TagSet': [{'Key': 'k', 'Value': 'a'}, {'Key': 'k', 'Value': 'b'}]}))
out['tags_kept_after_refusals'] = len(s3.get_object_tagging(Bucket=B, Key='k').get('TagSet', []))
out['tagging_missing_key'] = err(lambda: s3.get_object_tagging(Bucket=B, Key='missing'))
s3.put_object_acl(Bucket=B, Key='k', ACL='public-read')
out['acl_public_read'] = grants(s3.get_object_acl(Bucket=B, Key='k'))
out['after_put_acl'] = obj('k')
s3.delete_object_tagging(Bucket=B, Key='k')
out['after_delete_tagging'] = obj('k')
out['tagging_after_delete'] = s3.get_object_tagging(Bucket=B, Key='k').get('TagSet', [])
out['bad_canned'] = err(lambda: s3.put_object(Bucket=B, Key='bad', Body=b'x', ACL='world-writable'))
out['bad_canned_acl_call'] = err(lambda: s3.put_object_acl(Bucket=B, Key='k', ACL='world-writable'))
# An empty x-amz-acl is no ACL asked for (aptly's `acl: none`).
s3.put_object(Bucket=B, Key='empty-acl', Body=b'x', ACL='')
s3.copy_object(Bucket=B, Key='empty-acl-copy', CopySource={'Bucket': B, 'Key': 'empty-acl'}, ACL='')
out['empty_canned'] = [grants(s3.get_object_acl(Bucket=B, Key=k)) for k in ('empty-acl', 'empty-acl-copy')]
s3.delete_objects(Bucket=B, Delete={'Objects': [{'Key': 'empty-acl'}, {'Key': 'empty-acl-copy'}]})
out['bad_canned_left_nothing'] = err(lambda: s3.head_object(Bucket=B, Key='bad'))

s3.put_object(Bucket=B, Key='tagged', Body=b'abc', Tagging='a=1&b=two%20words', ACL='public-read-write')
out['put_with_tagging'] = sorted([t['Key'], t['Value']] for t in s3.get_object_tagging(Bucket=B, Key='tagged').get('TagSet', []))
out['put_with_acl'] = grants(s3.get_object_acl(Bucket=B, Key='tagged'))
out['head_tag_count'] = obj('tagged')[3]
s3.copy_object(Bucket=B, Key='copied', CopySource={'Bucket': B, 'Key': 'tagged'})
out['copy_keeps_tags'] = sorted([t['Key'], t['Value']] for t in s3.get_object_tagging(Bucket=B, Key='copied').get('TagSet', []))
out['copy_acl_default'] = grants(s3.get_object_acl(Bucket=B, Key='copied'))
s3.copy_object(Bucket=B, Key='copied2', CopySource={'Bucket': B, 'Key': 'tagged'}, TaggingDirective='REPLACE', Tagging='c=3', ACL='authenticated-read')
out['copy_replace_tags'] = sorted([t['Key'], t['Value']] for t in s3.get_object_tagging(Bucket=B, Key='copied2').get('TagSet', []))
out['copy_acl'] = grants(s3.get_object_acl(Bucket=B, Key='copied2'))

u = s3.create_multipart_upload(Bucket=B, Key='mp', Tagging='m=1', ACL='public-read')
p = s3.upload_part(Bucket=B, Key='mp', UploadId=u['UploadId'], PartNumber=1, Body=b'part one')
s3.complete_multipart_upload(Bucket=B, Key='mp', UploadId=u['UploadId'], MultipartUpload={'Parts': [{'PartNumber': 1, 'ETag': p['ETag']}]})
out['mpu_tags'] = s3.get_object_tagging(Bucket=B, Key='mp').get('TagSet', [])
out['mpu_acl'] = grants(s3.get_object_acl(Bucket=B, Key='mp'))

policy = s3.get_object_acl(Bucket=B, Key='k')
owner = policy['Owner']
s3.put_object_acl(Bucket=B, Key='k', AccessControlPolicy={'Owner': owner, 'Grants': [
    {'Grantee': {'Type': 'CanonicalUser', 'ID': owner['ID']}, 'Permission': 'FULL_CONTROL'}]})
out['acl_policy_private'] = grants(s3.get_object_acl(Bucket=B, Key='k'))
s3.put_object_acl(Bucket=B, Key='k', AccessControlPolicy={'Owner': owner, 'Grants': [
    {'Grantee': {'Type': 'CanonicalUser', 'ID': owner['ID']}, 'Permission': 'FULL_CONTROL'},
    {'Grantee': {'Type': 'Group', 'URI': 'http://acs.amazonaws.com/groups/global/AllUsers'}, 'Permission': 'READ'}]})
out['acl_policy_public'] = grants(s3.get_object_acl(Bucket=B, Key='k'))
out['final_object'] = obj('k')

out['bucket_tagging_none'] = err(lambda: s3.get_bucket_tagging(Bucket=B))
s3.put_bucket_tagging(Bucket=B, Tagging={'TagSet': [{'Key': 'team', 'Value': 'storage'}]})
out['bucket_tagging'] = s3.get_bucket_tagging(Bucket=B).get('TagSet', [])
out['bucket_51_tags'] = err(lambda: s3.put_bucket_tagging(Bucket=B, Tagging={'TagSet': [{'Key': f'k{i}', 'Value': 'v'} for i in range(51)]}))
s3.delete_bucket_tagging(Bucket=B)
out['bucket_tagging_deleted'] = err(lambda: s3.get_bucket_tagging(Bucket=B))
v = s3.get_bucket_versioning(Bucket=B)
out['versioning'] = {k: v[k] for k in v if k != 'ResponseMetadata'}
out['bucket_acl_default'] = grants(s3.get_bucket_acl(Bucket=B))
s3.put_bucket_acl(Bucket=B, ACL='public-read')
out['bucket_acl_public'] = grants(s3.get_bucket_acl(Bucket=B))
s3.put_bucket_acl(Bucket=B, ACL='private')
out['bucket_bad_canned'] = err(lambda: s3.put_bucket_acl(Bucket=B, ACL='nope'))
B2 = B + '-acl'
s3.create_bucket(Bucket=B2, ACL='public-read')
out['create_bucket_acl'] = grants(s3.get_bucket_acl(Bucket=B2))
s3.delete_bucket(Bucket=B2)
out['listing'] = sorted(o['Key'] for o in s3.list_objects_v2(Bucket=B)['Contents'])
print(json.dumps(out))
