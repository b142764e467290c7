'use strict';
/**
 * Converts a JS post to the wire JSON the addon reads, naming the field of any wrong type.
 * Only types are checked here; the rules (empty values, scheduled posts, …) are the core's.
 */
const { invalid } = require('./errors');

function text(field, value) {
  if (typeof value !== 'string') throw invalid(field, `must be a string, got ${describe(value)}`);
  return value;
}

function describe(value) {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
}

function content(value) {
  if (typeof value === 'string') return value;
  if (!Array.isArray(value))
    throw invalid('content', `must be a string or an array of thread items, got ${describe(value)}`);
  return value.map((item, i) => {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) {
      throw invalid(`content[${i}]`, `must be an object with "text", got ${describe(item)}`);
    }
    const unknown = Object.keys(item).filter((k) => k !== 'text' && k !== 'media');
    if (unknown.length)
      throw invalid(`content[${i}]`, `has unknown keys ${JSON.stringify(unknown)}: use "text" and "media"`);
    const converted = { text: text(`content[${i}].text`, item.text) };
    if (item.media !== undefined && item.media !== null) {
      if (!Array.isArray(item.media)) throw invalid(`content[${i}].media`, 'must be an array of { id }');
      converted.media = item.media.map((m, j) => ({ id: text(`content[${i}].media[${j}].id`, m?.id) }));
    }
    return converted;
  });
}

function scheduledAt(value) {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw invalid('scheduledAt', 'is an invalid Date');
    return value.toISOString();
  }
  throw invalid('scheduledAt', `must be a Date or an ISO string, got ${describe(value)}`);
}

/** The post as the campaign-line JSON. */
function postJson(post) {
  if (post === null || typeof post !== 'object') throw invalid('post', `must be an object, got ${describe(post)}`);
  const wire = {
    businessKey: text('businessKey', post.businessKey),
    platform: text('platform', post.platform),
    accountId: text('accountId', post.accountId),
    status: text('status', post.status ?? 'publish'),
    postType: text('postType', post.postType ?? 'post'),
    content: content(post.content),
  };
  const at = scheduledAt(post.scheduledAt);
  if (at !== undefined) wire.scheduledAt = at;
  return JSON.stringify(wire);
}

module.exports = { postJson };
