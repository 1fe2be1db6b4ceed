// The grants → canned ACL mapping that decides whether a migration may copy an object
// (src/route/object-acl.ts): exactly a canned ACL's grants map to it; anything more does not.
import { describe, expect, it } from 'vitest';
import { cannedFromPolicy } from '../../src/route/object-acl.js';

const ALL = 'http://acs.amazonaws.com/groups/global/AllUsers';
const AUTH = 'http://acs.amazonaws.com/groups/global/AuthenticatedUsers';
const user = (id: string, p: string) => `<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>${id}</ID><DisplayName>x</DisplayName></Grantee><Permission>${p}</Permission></Grant>`;
const group = (uri: string, p: string) => `<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group"><URI>${uri}</URI></Grantee><Permission>${p}</Permission></Grant>`;
const email = (p: string) => `<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="AmazonCustomerByEmail"><EmailAddress>a@example.com</EmailAddress></Grantee><Permission>${p}</Permission></Grant>`;
const policy = (...grants: string[]) => `<?xml version="1.0" encoding="UTF-8"?><AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>owner</ID><DisplayName>o</DisplayName></Owner><AccessControlList>${grants.join('')}</AccessControlList></AccessControlPolicy>`;

describe('cannedFromPolicy', () => {
  it.each([
    ['private', [user('owner', 'FULL_CONTROL')]],
    ['private', [user('owner', 'FULL_CONTROL'), user('owner', 'FULL_CONTROL')]],
    ['public-read', [user('owner', 'FULL_CONTROL'), group(ALL, 'READ')]],
    ['public-read-write', [group(ALL, 'WRITE'), user('owner', 'FULL_CONTROL'), group(ALL, 'READ')]],
    ['authenticated-read', [user('owner', 'FULL_CONTROL'), group(AUTH, 'READ')]],
  ])('%s', (want, grants) => expect(cannedFromPolicy(policy(...grants))).toBe(want));

  it.each([
    ['a grant to another account', [user('owner', 'FULL_CONTROL'), user('someone', 'READ')]],
    ['an e-mail grantee', [user('owner', 'FULL_CONTROL'), email('READ')]],
    ['READ_ACP to everyone', [user('owner', 'FULL_CONTROL'), group(ALL, 'READ'), group(ALL, 'READ_ACP')]],
    ['FULL_CONTROL to everyone', [user('owner', 'FULL_CONTROL'), group(ALL, 'FULL_CONTROL')]],
    ['WRITE alone to everyone', [user('owner', 'FULL_CONTROL'), group(ALL, 'WRITE')]],
    ['two groups', [user('owner', 'FULL_CONTROL'), group(ALL, 'READ'), group(AUTH, 'READ')]],
    ['another group', [user('owner', 'FULL_CONTROL'), group('http://acs.amazonaws.com/groups/s3/LogDelivery', 'WRITE')]],
  ])('%s maps to none', (_why, grants) => expect(cannedFromPolicy(policy(...grants))).toBeUndefined());

  it('a document without an owner or a list maps to none', () => {
    expect(cannedFromPolicy('<AccessControlPolicy><AccessControlList></AccessControlList></AccessControlPolicy>')).toBeUndefined();
    expect(cannedFromPolicy('<Error><Code>AccessDenied</Code></Error>')).toBeUndefined();
  });
});
