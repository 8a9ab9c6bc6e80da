// Multi-document transactions through the MongoDB wire gateway with Mongoose (Node ODM) and the
// Node driver it bundles: connection.transaction() and session.withTransaction() commit, abort
// when the callback throws, retry after a WriteConflict, and transfers keep the sum of balances.
// Run: node tests/e2e/mongoose_transactions.js "$URI"
// Prints one PASS/FAIL line per check and 'N passed, M failed'; exits non-zero on any failure.
// Works in a database of its own (mongoose_txn_<pid>_<random>), dropped at the end.
// The one answer tolerated besides MongoDB's is the gateway's documented LockTimeout (24,
// TransientTransactionError) to the first statement of a transaction while every pool
// connection transactions may pin is pinned (docs/transactions.md, "Connections"; e.g. a stress
// run sharing the cluster): a transaction's first statement is a probe that counts it, and the
// checks count such attempts apart.
'use strict';

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const mongoose = require('mongoose');

const uri = process.argv[2] || process.env.MONGODB_URI;
if (!uri) {
  console.error('usage: node tests/e2e/mongoose_transactions.js <mongodb-uri>');
  process.exit(2);
}
const dbName = `mongoose_txn_${process.pid}_${crypto.randomBytes(4).toString('hex')}`;
const WATCHDOG_MS = 45_000;

const accountSchema = new mongoose.Schema({
  name: { type: String, required: true, unique: true },
  balance: { type: Number, required: true },
});

const connOptions = { dbName, serverSelectionTimeoutMS: 10_000, appName: 'mongoose_transactions' };
let conn; // the application's connection
let observer; // another application: a connection (and driver client) of its own
let Account; // the model on `conn`
let Observed; // the same collection seen through `observer`

let passed = 0;
let failed = 0;

async function check(name, fn) {
  const t0 = Date.now();
  try {
    // Every check starts from an empty collection (written outside any transaction).
    await Account.deleteMany({});
    const note = await fn();
    passed += 1;
    console.log(`PASS ${name} (${Date.now() - t0} ms${note ? `; ${note}` : ''})`);
  } catch (e) {
    failed += 1;
    console.log(`FAIL ${name}: ${e && e.stack ? e.stack : e}`);
    if (e && e.errorResponse) console.log(`     server reply: ${JSON.stringify(e.errorResponse)}`);
  }
}

/** {name: balance} of every account, read through `model` outside any transaction. */
async function balances(model = Observed) {
  const docs = await model.find({}, { _id: 0, name: 1, balance: 1 }).sort({ name: 1 }).lean();
  return Object.fromEntries(docs.map((d) => [d.name, d.balance]));
}

class InsufficientFunds extends Error {}

/** LockTimeout (24, TransientTransactionError): every connection transactions may pin is pinned. */
function isPoolFull(e) {
  return e && e.code === 24 && typeof e.hasErrorLabel === 'function' && e.hasErrorLabel('TransientTransactionError');
}

/**
 * The first statement of a transaction (it pins a connection and takes the snapshot): a read of
 * a document that does not exist. Counts a pool-full LockTimeout in `counter.poolFull`.
 */
async function probe(session, counter) {
  try {
    assert.equal(await Account.findOne({ name: '__probe__' }, null, { session }), null);
  } catch (e) {
    if (isPoolFull(e)) counter.poolFull += 1;
    throw e;
  }
}

/** Starts a transaction on `session` and runs its first statement, waiting while the pool is full. */
async function begin(session) {
  const deadline = Date.now() + 30_000;
  const counter = { poolFull: 0 };
  for (;;) {
    session.startTransaction();
    try {
      await probe(session, counter);
      return;
    } catch (e) {
      await session.abortTransaction();
      if (!isPoolFull(e) || Date.now() > deadline) throw e;
      await new Promise((resolve) => setTimeout(resolve, 20 * Math.min(counter.poolFull, 10)));
    }
  }
}

/** Moves `amount` from one account to another inside the session's transaction. */
async function transfer(session, from, to, amount) {
  await Account.updateOne({ name: to }, { $inc: { balance: amount } }, { session });
  const debited = await Account.findOneAndUpdate(
    { name: from },
    { $inc: { balance: -amount } },
    { session, returnDocument: 'after' },
  );
  if (!debited) throw new Error(`no account ${from}`);
  if (debited.balance < 0) throw new InsufficientFunds(`${from} would have ${debited.balance}`);
}

async function main() {
  conn = await mongoose.createConnection(uri, connOptions).asPromise();
  observer = await mongoose.createConnection(uri, connOptions).asPromise();
  Account = conn.model('Account', accountSchema);
  Observed = observer.model('Account', accountSchema);
  // Create the collection and its unique index before any transaction uses them.
  await Account.init();

  await check('connection.transaction() commits; writes are visible only after the commit', async () => {
    const counter = { poolFull: 0 };
    let calls = 0;
    const result = await conn.transaction(async (session) => {
      calls += 1;
      await probe(session, counter);
      await Account.create([{ name: 'alice', balance: 100 }, { name: 'bob', balance: 50 }], { session, ordered: true });
      const carol = new Account({ name: 'carol', balance: 0 });
      await carol.save({ session });
      await Account.updateOne({ name: 'bob' }, { $inc: { balance: 5 } }, { session });
      const inside = await Account.find({}, null, { session }).sort({ name: 1 }).lean();
      assert.deepEqual(inside.map((d) => [d.name, d.balance]), [['alice', 100], ['bob', 55], ['carol', 0]],
        'the transaction sees its own writes');
      assert.equal(await Observed.countDocuments(), 0, 'another connection sees no uncommitted write');
      assert.equal(await Account.countDocuments(), 0, 'the same connection outside the session neither');
      return 'committed';
    });
    assert.equal(result, 'committed', 'transaction() resolves to the callback value');
    assert.equal(calls - counter.poolFull, 1, 'no retry without a transient error');
    assert.deepEqual(await balances(), { alice: 100, bob: 55, carol: 0 }, 'every write is visible after commit');
  });

  await check('connection.transaction() aborts when the callback throws', async () => {
    await Account.create({ name: 'alice', balance: 100 });
    const dave = new Account({ name: 'dave', balance: 1 });
    const boom = new Error('boom');
    const counter = { poolFull: 0 };
    let calls = 0;
    await assert.rejects(
      conn.transaction(async (session) => {
        calls += 1;
        await probe(session, counter);
        await dave.save({ session });
        await Account.updateOne({ name: 'alice' }, { $inc: { balance: -100 } }, { session });
        await Account.create([{ name: 'erin', balance: 7 }], { session });
        assert.equal(await Account.countDocuments({}, { session }), 3);
        throw boom;
      }),
      (e) => e === boom,
    );
    assert.equal(calls - counter.poolFull, 1, 'an application error is not retried');
    assert.deepEqual(await balances(), { alice: 100 }, 'nothing the callback wrote remains');
    assert.equal(dave.isNew, true, 'mongoose reset the state of the document saved in the aborted transaction');
  });

  await check('session.withTransaction() commits', async () => {
    const session = await conn.startSession();
    try {
      const counter = { poolFull: 0 };
      let calls = 0;
      const result = await session.withTransaction(async () => {
        calls += 1;
        await probe(session, counter);
        await Account.insertMany([{ name: 'alice', balance: 10 }, { name: 'bob', balance: 20 }], { session });
        await Account.deleteOne({ name: 'bob' }, { session });
        await Account.updateOne({ name: 'alice' }, { $set: { balance: 11 } }, { session });
        assert.equal(await Observed.countDocuments(), 0, 'not visible before the commit');
        return 42;
      });
      assert.equal(result, 42, 'withTransaction() resolves to the callback value');
      assert.equal(calls - counter.poolFull, 1, 'no retry without a transient error');
      assert.equal(session.inTransaction(), false);
    } finally {
      await session.endSession();
    }
    assert.deepEqual(await balances(), { alice: 11 });
  });

  await check('session.withTransaction() aborts when the callback throws', async () => {
    await Account.create({ name: 'alice', balance: 100 });
    const session = await conn.startSession();
    try {
      const counter = { poolFull: 0 };
      let calls = 0;
      await assert.rejects(
        session.withTransaction(async () => {
          calls += 1;
          await probe(session, counter);
          await Account.create([{ name: 'bob', balance: 1 }], { session });
          await Account.deleteOne({ name: 'alice' }, { session });
          throw new Error('callback failed');
        }),
        /callback failed/,
      );
      assert.equal(session.inTransaction(), false, 'the transaction was aborted');
      assert.equal(calls - counter.poolFull, 1, 'an application error is not retried');
    } finally {
      await session.endSession();
    }
    assert.deepEqual(await balances(), { alice: 100 }, 'nothing the callback wrote remains');
  });

  await check('transfers inside withTransaction keep the sum (one, overdraft, 6 concurrent)', async () => {
    await Account.create([{ name: 'alice', balance: 100 }, { name: 'bob', balance: 50 }]);
    const session = await conn.startSession();
    try {
      await session.withTransaction(() => transfer(session, 'alice', 'bob', 30));
      assert.deepEqual(await balances(), { alice: 70, bob: 80 });
      // An overdraft: bob is credited, then alice's debit goes negative and the callback throws.
      await assert.rejects(session.withTransaction(() => transfer(session, 'alice', 'bob', 500)), InsufficientFunds);
      assert.deepEqual(await balances(), { alice: 70, bob: 80 }, 'the overdraft, credit included, was rolled back');
    } finally {
      await session.endSession();
    }
    // Concurrent transfers between the same two accounts conflict (WriteConflict is a
    // TransientTransactionError): withTransaction retries them until each commits once.
    let attempts = 0;
    const moves = [];
    for (let i = 0; i < 3; i += 1) moves.push(['alice', 'bob', 10], ['bob', 'alice', 5]);
    await Promise.all(
      moves.map(([from, to, amount]) =>
        conn.transaction(async (s) => {
          attempts += 1;
          await transfer(s, from, to, amount);
        }),
      ),
    );
    const after = await balances();
    assert.deepEqual(after, { alice: 55, bob: 95 }, 'every transfer applied exactly once');
    assert.equal(after.alice + after.bob, 150, 'the sum is kept');
    return `${attempts} callback attempts for ${moves.length} concurrent transfers`;
  });

  await check('a WriteConflict (112, TransientTransactionError) makes withTransaction retry', async () => {
    await Account.create({ name: 'alice', balance: 0 });
    const first = await conn.startSession();
    const counter = { poolFull: 0 };
    let attempts = 0;
    let conflict = null;
    let waited = null;
    try {
      await begin(first);
      await Account.updateOne({ name: 'alice' }, { $inc: { balance: 1 } }, { session: first });
      await conn.transaction(async (session) => {
        attempts += 1;
        // While the pool is full the open transaction stays open: withTransaction backs off and retries.
        await probe(session, counter);
        const t0 = Date.now();
        try {
          await Account.updateOne({ name: 'alice' }, { $inc: { balance: 10 } }, { session });
        } catch (e) {
          waited = Date.now() - t0;
          if (!conflict) conflict = e;
          throw e;
        } finally {
          // The open transaction that holds the document commits; the retry then succeeds.
          if (first.inTransaction()) await first.commitTransaction();
        }
      });
    } finally {
      if (first.inTransaction()) await first.abortTransaction().catch(() => {});
      await first.endSession();
    }
    assert.ok(conflict, 'the first attempt should conflict with the open transaction');
    assert.equal(conflict.code, 112, `code of ${conflict}`);
    assert.equal(conflict.codeName, 'WriteConflict');
    assert.ok(conflict.hasErrorLabel('TransientTransactionError'), `labels ${JSON.stringify(conflict.errorLabels)}`);
    assert.ok(waited < 2000, `the conflict is reported without waiting (${waited} ms)`);
    assert.equal(attempts - counter.poolFull, 2, 'the callback ran again after the conflict');
    assert.deepEqual(await balances(), { alice: 11 }, 'both increments are in');
  });
}

async function cleanUp() {
  if (conn) {
    try {
      await conn.dropDatabase();
    } catch (e) {
      console.log(`warning: dropDatabase ${dbName}: ${e}`);
    }
  }
  await Promise.allSettled([conn, observer].filter(Boolean).map((c) => c.close(true)));
}

const watchdog = setTimeout(() => {
  console.log(`FAIL watchdog: the checks did not finish in ${WATCHDOG_MS / 1000} s`);
  console.log(`${passed} passed, ${failed + 1} failed`);
  const forceExit = setTimeout(() => process.exit(1), 5_000);
  forceExit.unref();
  cleanUp().finally(() => process.exit(1));
}, WATCHDOG_MS);
watchdog.unref();

main()
  .catch((e) => {
    failed += 1;
    console.log(`FAIL setup: ${e && e.stack ? e.stack : e}`);
  })
  .finally(async () => {
    await cleanUp();
    clearTimeout(watchdog);
    console.log(`${passed} passed, ${failed} failed`);
    process.exitCode = failed === 0 && passed > 0 ? 0 : 1;
  });
