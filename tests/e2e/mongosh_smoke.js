// mongosh smoke test through the MongoDB wire gateway: insert, query, update, aggregate.
// Run: mongosh "$URI" --quiet --file tests/e2e/mongosh_smoke.js
// Throws (so mongosh exits non-zero) on the first mismatch; prints 'N passed, 0 failed' at the end.

const dbName = 'e2e_mongosh_' + Math.random().toString(16).slice(2, 10);
const d = db.getSiblingDB(dbName);
let passed = 0;

function eq(actual, expected, what) {
  const a = EJSON.stringify(actual, { relaxed: false });
  const e = EJSON.stringify(expected, { relaxed: false });
  if (a !== e) {
    throw new Error(`${what}: expected ${e}, got ${a}`);
  }
}

function check(name, fn) {
  fn();
  passed += 1;
  print(`PASS ${name}`);
}

try {
  check('server_info', () => {
    eq(db.version(), '7.0.0', 'db.version()');
    eq(db.adminCommand({ ping: 1 }).ok, 1, 'ping');
    eq(db.hello().isWritablePrimary, true, 'hello');
  });

  check('insert', () => {
    const one = d.items.insertOne({ name: 'widget', qty: 5, tags: ['a', 'b'] });
    eq(one.acknowledged, true, 'insertOne acknowledged');
    if (!(one.insertedId instanceof ObjectId)) {
      throw new Error(`insertedId is not an ObjectId: ${one.insertedId}`);
    }
    eq(d.items.findOne({ _id: one.insertedId }).name, 'widget', 'findOne by generated id');
    const many = d.items.insertMany([
      { name: 'gadget', qty: 12, tags: ['b'] },
      { name: 'doohickey', qty: 1, tags: [] },
      { name: 'gizmo', qty: 7, tags: ['a', 'c'] },
      { name: 'thingamajig', qty: 30, tags: ['c'] },
    ]);
    eq(Object.keys(many.insertedIds).length, 4, 'insertMany insertedIds');
    eq(d.items.countDocuments({}), 5, 'countDocuments after inserts');
    // Exact numeric types survive the round trip.
    d.types.insertOne({ _id: 1, i: NumberInt(7), l: NumberLong('9007199254740993'), f: 2.5, dec: NumberDecimal('0.10'), dt: ISODate('2024-02-29T13:14:15.678Z') });
    eq(d.types.findOne({ _id: 1 }), { _id: 1, i: NumberInt(7), l: NumberLong('9007199254740993'), f: 2.5, dec: NumberDecimal('0.10'), dt: ISODate('2024-02-29T13:14:15.678Z') }, 'typed round trip');
  });

  check('query', () => {
    eq(d.items.find({ qty: { $gt: 5 } }, { _id: 0, name: 1 }).sort({ qty: 1 }).toArray(), [{ name: 'gizmo' }, { name: 'gadget' }, { name: 'thingamajig' }], 'find $gt sorted');
    eq(d.items.countDocuments({ tags: 'a' }), 2, 'array membership');
    eq(d.items.find({}, { _id: 0, name: 1 }).sort({ name: -1 }).skip(1).limit(2).toArray(), [{ name: 'thingamajig' }, { name: 'gizmo' }], 'sort/skip/limit');
    eq(d.items.distinct('tags').sort(), ['a', 'b', 'c'], 'distinct');
    eq(d.items.findOne({ name: 'nope' }), null, 'findOne miss');
    let threw = false;
    try {
      d.items.findOne({ qty: { $bogus: 1 } });
    } catch (e) {
      threw = true;
      eq(e.code, 2, 'invalid operator error code');
    }
    eq(threw, true, 'invalid operator throws');
  });

  check('cursor_get_more', () => {
    d.many.insertMany(Array.from({ length: 500 }, (_, i) => ({ _id: i })));
    const ids = d.many.find().sort({ _id: 1 }).batchSize(50).toArray().map((x) => x._id);
    eq(ids.length, 500, 'cursor length');
    eq(ids[0] === 0 && ids[499] === 499, true, 'cursor order');
  });

  check('update', () => {
    let r = d.items.updateOne({ name: 'widget' }, { $inc: { qty: 10 }, $push: { tags: 'z' } });
    eq([r.matchedCount, r.modifiedCount], [1, 1], 'updateOne counts');
    eq(d.items.findOne({ name: 'widget' }, { _id: 0, qty: 1, tags: 1 }), { qty: 15, tags: ['a', 'b', 'z'] }, 'updateOne result');
    r = d.items.updateMany({ qty: { $lt: 10 } }, { $set: { low: true } });
    eq([r.matchedCount, r.modifiedCount], [2, 2], 'updateMany counts');
    r = d.items.updateOne({ name: 'new' }, { $set: { qty: 0 } }, { upsert: true });
    eq([r.matchedCount, r.upsertedCount], [0, 1], 'upsert counts');
    r = d.items.replaceOne({ name: 'new' }, { name: 'newer', qty: 3 });
    eq(r.modifiedCount, 1, 'replaceOne');
    const after = d.items.findOneAndUpdate({ name: 'newer' }, { $inc: { qty: 1 } }, { returnDocument: 'after', projection: { _id: 0 } });
    eq(after, { name: 'newer', qty: 4 }, 'findOneAndUpdate after');
    eq(d.items.deleteOne({ name: 'newer' }).deletedCount, 1, 'deleteOne');
    eq(d.items.countDocuments({ low: true }), 2, 'count after updates');
    let dup = false;
    try {
      d.items.insertOne({ _id: d.items.findOne({ name: 'gizmo' })._id });
    } catch (e) {
      dup = true;
      eq(e.code, 11000, 'duplicate key code');
    }
    eq(dup, true, 'duplicate _id throws');
  });

  check('aggregate', () => {
    const res = d.items.aggregate([
      { $unwind: '$tags' },
      { $group: { _id: '$tags', total: { $sum: '$qty' }, n: { $sum: 1 } } },
      { $sort: { _id: 1 } },
    ]).toArray();
    eq(res, [
      { _id: 'a', total: 22, n: 2 },
      { _id: 'b', total: 27, n: 2 },
      { _id: 'c', total: 37, n: 2 },
      { _id: 'z', total: 15, n: 1 },
    ], 'aggregate $unwind/$group/$sort');
    const stats = d.items.aggregate([{ $match: { qty: { $gte: 5 } } }, { $group: { _id: null, max: { $max: '$qty' }, avg: { $avg: '$qty' } } }, { $project: { _id: 0 } }]).toArray();
    eq(stats, [{ max: 30, avg: 16 }], 'aggregate $match/$group');
  });

  check('indexes_and_namespaces', () => {
    eq(d.items.createIndex({ name: 1 }, { unique: true }), 'name_1', 'createIndex');
    eq(d.items.getIndexes().map((ix) => ix.name).sort(), ['_id_', 'name_1'], 'getIndexes');
    d.items.dropIndex('name_1');
    eq(d.items.getIndexes().map((ix) => ix.name), ['_id_'], 'dropIndex');
    eq(d.getCollectionNames().sort(), ['items', 'many', 'types'], 'getCollectionNames');
    eq(d.many.drop(), true, 'drop collection');
    eq(db.adminCommand({ listDatabases: 1 }).databases.some((x) => x.name === dbName), true, 'listDatabases');
  });
} finally {
  d.dropDatabase();
}
print(`${passed} passed, 0 failed`);
