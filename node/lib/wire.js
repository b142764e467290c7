'use strict';
/**
 * Converts a JS post to the wire JSON the addon reads, naming the field of any wrong type.
 * Only types are checked here; the rules (empty values, scheduled posts, …) are the core's.
 */
const { invalid, invalidSetting } = require('./errors');

/** The fields of a post; any other is refused (a misspelt `scheduled_at` must not publish now). */
const POST_FIELDS = ['businessKey', 'platform', 'accountId', 'status', 'postType', 'content', 'scheduledAt'];

/** A lone UTF-16 surrogate (`String.prototype.isWellFormed` would do, Node 20+; this works anywhere). */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** A string that is text: a lone UTF-16 surrogate (`'\ud800'`) is not, and would be replaced. */
function wellFormed(field, value, fail = invalid) {
  if (LONE_SURROGATE.test(value)) {
    throw fail(field, 'holds a lone surrogate (\\ud800-\\udfff), which is not text: remove it');
  }
  return value;
}

function text(field, value) {
  if (typeof value !== 'string') throw invalid(field, `must be a string, got ${describe(value)}`);
  return wellFormed(field, value);
}

function describe(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number' && Number.isNaN(value)) return 'NaN';
  return typeof value;
}

/**
 * The field names of `object` as a reader of it sees them: its own properties, enumerable or
 * not, and the getters and values it inherits (a class's `get scheduled_at()`), but not the
 * methods it inherits.
 */
function fieldNames(object) {
  const names = new Set(Object.getOwnPropertyNames(object));
  for (let proto = Object.getPrototypeOf(object); proto && proto !== Object.prototype; ) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      const property = Object.getOwnPropertyDescriptor(proto, name);
      if (name !== 'constructor' && (property.get || typeof property.value !== 'function')) names.add(name);
    }
    proto = Object.getPrototypeOf(proto);
  }
  return [...names];
}

/**
 * Refuses keys of `object` not in `known`, naming the first: `what` is how messages name
 * the object's fields (`scheduled_at is not a field of a post`).
 */
function refuseUnknown(object, known, what, fail = invalid) {
  const unknown = fieldNames(object).find((k) => !known.includes(k));
  if (unknown !== undefined) throw fail(unknown, `is not ${what}: use ${known.join(', ')}`);
}

/**
 * A numeric setting as the addon takes it (a number; `undefined` for the default). Only the
 * type is checked here: the bounds are the Rust client's, which names the setting.
 */
function settingNumber(name, value) {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value !== 'number') throw invalidSetting(name, `must be a number, got ${describe(value)}`);
  return value;
}

function content(value) {
  if (typeof value === 'string') return text('content', value);
  if (!Array.isArray(value))
    throw invalid('content', `must be a string or an array of thread items, got ${describe(value)}`);
  return value.map((item, i) => {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) {
      throw invalid(`content[${i}]`, `must be an object with "text", got ${describe(item)}`);
    }
    const unknown = fieldNames(item).filter((k) => k !== 'text' && k !== 'media');
    if (unknown.length)
      throw invalid(`content[${i}]`, `has unknown keys ${JSON.stringify(unknown)}: use "text" and "media"`);
    const converted = { text: text(`content[${i}].text`, item.text) };
    if (item.media !== undefined && item.media !== null) {
      if (!Array.isArray(item.media)) throw invalid(`content[${i}].media`, 'must be an array of { id }');
      converted.media = item.media.map((m, j) => {
        if (m !== null && typeof m === 'object') refuseUnknown(m, ['id'], 'a field of a media reference');
        return { id: text(`content[${i}].media[${j}].id`, m?.id) };
      });
    }
    return converted;
  });
}

function scheduledAt(value) {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return text('scheduledAt', value);
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw invalid('scheduledAt', 'is an invalid Date');
    return value.toISOString();
  }
  throw invalid('scheduledAt', `must be a Date or an ISO string, got ${describe(value)}`);
}

/** The post as the campaign-line JSON. */
function postJson(post) {
  if (post === null || typeof post !== 'object') throw invalid('post', `must be an object, got ${describe(post)}`);
  refuseUnknown(post, POST_FIELDS, 'a field of a post');
  const wire = {
    businessKey: text('businessKey', post.businessKey),
    platform: text('platform', post.platform),
    accountId: text('accountId', post.accountId),
    postType: text('postType', post.postType ?? 'post'),
    content: content(post.content),
  };
  // No status: the core reads it from scheduledAt ("scheduled" with one, else "publish").
  if (post.status !== undefined && post.status !== null) wire.status = text('status', post.status);
  const at = scheduledAt(post.scheduledAt);
  if (at !== undefined) wire.scheduledAt = at;
  return JSON.stringify(wire);
}

module.exports = { postJson, refuseUnknown, settingNumber, wellFormed };
