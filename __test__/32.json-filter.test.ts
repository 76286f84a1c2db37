// docs/behaviour.md#reading-json-filter: Upstream's `data[key] === value` for primitives; objects and
// arrays compared deeply as JSON (key order ignored, array order kept).
import { stores } from './support/stores';

describe.each(stores)('$name: jsonFilter', ({ create }) => {
  let store: any;
  const names = async (jsonFilter: unknown, extra: object = {}) =>
    (await store.getAllMessages({ jsonFilter, ...extra })).map((m: any) => m.message.type);

  beforeEach(async () => {
    store = create();
    await store.saveMessages('j', [
      { type: 'str', data: { k: 'v', other: 1 } },
      { type: 'num', data: { k: 1 } },
      { type: 'numStr', data: { k: '1' } },
      { type: 'float', data: { k: 1.5 } },
      { type: 'zero', data: { k: 0 } },
      { type: 'negZero', data: { k: -0 } },
      { type: 'true', data: { k: true } },
      { type: 'false', data: { k: false } },
      { type: 'null', data: { k: null } },
      { type: 'nan', data: { k: NaN } },
      { type: 'empty', data: {} },
      { type: 'emptyStr', data: { k: '' } },
      { type: 'obj', data: { k: { a: 1, b: [1, 2] } } },
      { type: 'objReordered', data: { k: { b: [1, 2], a: 1 } } },
      { type: 'objExtra', data: { k: { a: 1, b: [1, 2], c: 3 } } },
      { type: 'arr', data: { k: [1, 2] } },
      { type: 'arrReversed', data: { k: [2, 1] } },
      { type: 'arrLonger', data: { k: [1, 2, 3] } },
      { type: 'emptyArr', data: { k: [] } },
      { type: 'emptyObj', data: { k: {} } },
      { type: 'dataArray', data: ['a', 'b'] },
      { type: 'dataNull', data: null },
      { type: 'dataString', data: 'k' },
      { type: 'dataNumber', data: 7 },
      { type: 'noData' },
      { type: 'dotted', data: { 'a.b': 1, a: { b: 2 } } },
      { type: 'unicode', data: { '😀': '\ud800', ключ: 'значение' } },
      { type: 'big', data: { k: 2 ** 53 + 2 } },
      { type: 'sum', data: { k: 0.1 + 0.2 } },
      { type: 'proto', data: JSON.parse('{"__proto__": 1}') },
    ]);
  });

  test('string, number, boolean values: strict equality', async () => {
    expect(await names({ k: 'v' })).toEqual(['str']);
    expect(await names({ k: 1 })).toEqual(['num']);
    expect(await names({ k: 1.0 })).toEqual(['num']);
    expect(await names({ k: '1' })).toEqual(['numStr']);
    expect(await names({ k: 1.5 })).toEqual(['float']);
    expect(await names({ k: true })).toEqual(['true']);
    expect(await names({ k: false })).toEqual(['false']);
    expect(await names({ k: '' })).toEqual(['emptyStr']);
    expect(await names({ k: 'V' })).toEqual([]);
    expect(await names({ k: 2 })).toEqual([]);
  });

  test('0 and -0 are equal (as ===), both ways', async () => {
    expect(await names({ k: 0 })).toEqual(['zero', 'negZero']);
    expect(await names({ k: -0 })).toEqual(['zero', 'negZero']);
  });

  test('large and inexact numbers compare exactly', async () => {
    expect(await names({ k: 2 ** 53 + 2 })).toEqual(['big']);
    expect(await names({ k: 0.1 + 0.2 })).toEqual(['sum']);
    expect(await names({ k: 0.3 })).toEqual([]);
  });

  test('null matches a stored null (NaN is stored as null, as JSON does) and never a missing key', async () => {
    expect(await names({ k: null })).toEqual(['null', 'nan']);
  });

  test('NaN and Infinity in the filter match nothing (NaN === x is false; data holds no Infinity)', async () => {
    expect(await names({ k: NaN })).toEqual([]);
    expect(await names({ k: Infinity })).toEqual([]);
    expect(await names({ k: -Infinity })).toEqual([]);
  });

  test('a key holding undefined matches data without that key, and nothing else', async () => {
    expect(await names({ k: undefined })).toEqual(['empty', 'dataArray', 'dotted', 'unicode', 'proto']);
    expect(await names({ k: undefined, other: 1 })).toEqual([]);
    expect(await names({ other: 1, missing: undefined })).toEqual(['str']);
  });

  test('a key stored as undefined is absent', async () => {
    await store.saveMessage('u', { type: 'storedUndefined', data: { k: undefined, z: 1 } });
    expect(await names({ z: 1, k: undefined })).toEqual(['storedUndefined']);
    expect(await names({ z: 1, k: null })).toEqual([]);
  });

  test('objects compare deeply, ignoring key order; a partial object does not match', async () => {
    expect(await names({ k: { a: 1, b: [1, 2] } })).toEqual(['obj', 'objReordered']);
    expect(await names({ k: { b: [1, 2], a: 1 } })).toEqual(['obj', 'objReordered']);
    expect(await names({ k: { a: 1 } })).toEqual([]);
    expect(await names({ k: { a: 1, b: [2, 1] } })).toEqual([]);
    expect(await names({ k: {} })).toEqual(['emptyObj']);
  });

  test('nested objects ignore key order at every depth; arrays inside keep theirs', async () => {
    await store.saveMessage('n', { type: 'deep', data: { k: { a: { x: 1, y: [{ p: 1, q: 2 }] } } } });
    expect(await names({ k: { a: { y: [{ q: 2, p: 1 }], x: 1 } } })).toEqual(['deep']);
    expect(await names({ k: { a: { y: [{ q: 2 }], x: 1 } } })).toEqual([]);
  });

  test('numbers compare by value whatever their JSON spelling', async () => {
    await store.saveMessages('n', [
      { type: 'e21', data: { n: 1e21 } },
      { type: 'e-7', data: { n: 1e-7 } },
      { type: 'min', data: { n: 5e-324 } },
      { type: 'max', data: { n: Number.MAX_VALUE } },
      // biome-ignore lint/correctness/noPrecisionLoss: a number past 2^53, as JSON.parse would make it, on purpose
      { type: 'huge', data: { n: 12345678901234567890 } },
      { type: 'e21text', data: { n: '1e+21' } },
    ]);
    expect(await names({ n: 1e21 })).toEqual(['e21']);
    expect(await names({ n: 1e-7 })).toEqual(['e-7']);
    expect(await names({ n: 5e-324 })).toEqual(['min']);
    expect(await names({ n: Number.MAX_VALUE })).toEqual(['max']);
    expect(await names({ n: 12345678901234567000 })).toEqual(['huge']);
    expect(await names({ n: '1e+21' })).toEqual(['e21text']);
    expect(await names({ n: 1e20 })).toEqual([]);
  });

  test('arrays compare deeply, order and length kept', async () => {
    expect(await names({ k: [1, 2] })).toEqual(['arr']);
    expect(await names({ k: [2, 1] })).toEqual(['arrReversed']);
    expect(await names({ k: [1, 2, 3] })).toEqual(['arrLonger']);
    expect(await names({ k: [] })).toEqual(['emptyArr']);
    expect(await names({ k: [1] })).toEqual([]);
  });

  test('values inside filter objects compare as JSON (undefined dropped, in arrays null)', async () => {
    await store.saveMessage('n', { type: 'withNull', data: { k: [null], o: { a: 1 } } });
    expect(await names({ k: [undefined] })).toEqual(['withNull']);
    expect(await names({ o: { a: 1, gone: undefined } })).toEqual(['withNull']);
  });

  test('{} matches every message whose data is a non-null object or an array', async () => {
    const all = await names({});
    expect(all).toEqual([
      'str',
      'num',
      'numStr',
      'float',
      'zero',
      'negZero',
      'true',
      'false',
      'null',
      'nan',
      'empty',
      'emptyStr',
      'obj',
      'objReordered',
      'objExtra',
      'arr',
      'arrReversed',
      'arrLonger',
      'emptyArr',
      'emptyObj',
      'dataArray',
      'dotted',
      'unicode',
      'big',
      'sum',
      'proto',
    ]);
    expect(all).not.toContain('dataNull');
    expect(all).not.toContain('dataString');
    expect(all).not.toContain('dataNumber');
    expect(all).not.toContain('noData');
  });

  test('absent, null and non-object data never match', async () => {
    expect(await names({ length: 1 })).toEqual([]);
    expect(await names({ 0: 'k' })).toEqual([]);
    expect(await names({ k: undefined }, { streamId: 'j', messageNames: ['noData', 'dataNull', 'dataString', 'dataNumber'] })).toEqual([]);
  });

  test('array data: index keys and length match as data[key] === value does', async () => {
    expect(await names({ 0: 'a' })).toEqual(['dataArray']);
    expect(await names({ 0: 'a', 1: 'b' })).toEqual(['dataArray']);
    expect(await names({ 1: 'a' })).toEqual([]);
    expect(await names({ length: 2 })).toEqual(['dataArray']);
  });

  test('keys are taken literally: no paths', async () => {
    expect(await names({ 'a.b': 1 })).toEqual(['dotted']);
    expect(await names({ a: { b: 2 } })).toEqual(['dotted']);
    expect(await names({ 'a.b': 2 })).toEqual([]);
  });

  test('unicode keys and values, lone surrogates', async () => {
    expect(await names({ '😀': '\ud800' })).toEqual(['unicode']);
    expect(await names({ ключ: 'значение' })).toEqual(['unicode']);
    expect(await names({ '😀': '\udc00' })).toEqual([]);
  });

  test('__proto__ as an own filter key matches an own __proto__ data key only', async () => {
    expect(await names(JSON.parse('{"__proto__": 1}'))).toEqual(['proto']);
    expect(await names(JSON.parse('{"__proto__": 2}'))).toEqual([]);
  });

  test('several keys must all match', async () => {
    expect(await names({ k: 'v', other: 1 })).toEqual(['str']);
    expect(await names({ k: 'v', other: 2 })).toEqual([]);
  });

  test('combines with the other filters and count', async () => {
    await store.saveMessage('j2', { type: 'str2', data: { k: 'v' } });
    expect(await names({ k: 'v' })).toEqual(['str', 'str2']);
    expect(await names({ k: 'v' }, { streamId: 'j2' })).toEqual(['str2']);
    const last = await store.getAllMessages({ jsonFilter: { k: 'v' } }, 1);
    expect(last.map((m: any) => m.message.type)).toEqual(['str2']);
  });

  test('a Date in the filter compares as its JSON text', async () => {
    const d = new Date('2020-01-01T00:00:00.000Z');
    await store.saveMessage('d', { type: 'dated', data: { when: d } });
    expect(await names({ when: d })).toEqual(['dated']);
    expect(await names({ when: '2020-01-01T00:00:00.000Z' })).toEqual(['dated']);
  });

  test('a filter value nested 1000 levels (the filter counted) is accepted; 1001 is a TypeError', async () => {
    const nested = (levels: number) => {
      const root: any = {};
      let cur = root;
      for (let i = 1; i < levels; i++) cur = cur.x = {};
      return root;
    };
    await expect(store.getAllMessages({ jsonFilter: { k: nested(999) } })).resolves.toEqual([]);
    const p = store.getAllMessages({ jsonFilter: { k: nested(1000) } });
    await expect(p).rejects.toBeInstanceOf(TypeError);
    await expect(p).rejects.toHaveProperty(
      'message',
      `filter.jsonFilter.k.${Array(999).fill('x').join('.')} is nested more than 1000 levels deep`,
    );
  });

  test.each([
    [{ k: () => 1 }, 'filter.jsonFilter.k is a function, which JSON cannot hold'],
    [{ k: 1n }, 'filter.jsonFilter.k is a bigint, which JSON cannot hold'],
    [{ k: Symbol('s') }, 'filter.jsonFilter.k is a symbol, which JSON cannot hold'],
    [{ k: { deep: [1, 2n] } }, 'filter.jsonFilter.k.deep[1] is a bigint, which JSON cannot hold'],
    [
      (() => {
        const c: any = {};
        c.self = c;
        return { k: c };
      })(),
      'filter.jsonFilter.k.self is a circular reference, which JSON cannot hold',
    ],
  ])('jsonFilter %p is a TypeError', async (jsonFilter, text) => {
    const p = store.getAllMessages({ jsonFilter });
    await expect(p).rejects.toBeInstanceOf(TypeError);
    await expect(p).rejects.toHaveProperty('message', text);
  });
});
