#!/usr/bin/env node
// A real NestJS 11 peer for kafkarpc's interop tests (kafkajs 2 underneath).
//
//   node peer.js serve <bootstrap> <groupId> <prefix>
//       A NestJS Kafka microservice answering these message patterns:
//         <prefix>.sum     {a, b} -> a + b
//         <prefix>.refuse  any    -> throws RpcException("refused: <json of data>")
//         <prefix>.whoami  any    -> {"service": "nestjs-peer", "received": data}
//         <prefix>.count   {n}    -> a stream of n replies 1..n (an Observable)
//       Prints READY on stdout once the consumer has joined its group.
//
//   node peer.js call <bootstrap> <groupId> <pattern> <json array of payloads>
//       A NestJS ClientKafka sending every payload at once to <pattern>; prints one JSON
//       line: an array, in payload order, of {"ok": reply} or {"error": error}.
//
// Plain JavaScript with Reflect.decorate: no TypeScript build step on the test machine.
'use strict';
require('reflect-metadata');
const { Controller, Module } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const {
  ClientKafka, MessagePattern, RpcException, Transport,
} = require('@nestjs/microservices');
const { logLevel } = require('kafkajs');
const { lastValueFrom, range, toArray } = require('rxjs');

const quiet = { logger: ['error'] };

function kafkaOptions(bootstrap, groupId) {
  return {
    client: {
      clientId: groupId, brokers: [bootstrap], retry: { retries: 3 }, logLevel: logLevel.ERROR,
    },
    // Tansu holds a JoinGroup for about half the session timeout.
    consumer: { groupId, sessionTimeout: 6000, heartbeatInterval: 500 },
    producer: { allowAutoTopicCreation: false },
    // Topics are fresh per test: reading from the beginning means a request sent right
    // after READY is not skipped while kafkajs is still resolving the "latest" offset.
    subscribe: { fromBeginning: true },
    postfixId: '',
  };
}

async function serve(bootstrap, groupId, prefix) {
  class PeerController {
    sum(data) { return data.a + data.b; }
    refuse(data) { throw new RpcException(`refused: ${JSON.stringify(data)}`); }
    whoami(data) { return { service: 'nestjs-peer', received: data }; }
    count(data) { return range(1, data.n); }
  }
  for (const name of ['sum', 'refuse', 'whoami', 'count']) {
    const descriptor = Object.getOwnPropertyDescriptor(PeerController.prototype, name);
    Reflect.decorate(
      [MessagePattern(`${prefix}.${name}`)], PeerController.prototype, name, descriptor,
    );
  }
  Reflect.decorate([Controller()], PeerController);
  class PeerModule {}
  Reflect.decorate([Module({ controllers: [PeerController] })], PeerModule);

  const app = await NestFactory.createMicroservice(PeerModule, {
    ...quiet, transport: Transport.KAFKA, options: kafkaOptions(bootstrap, groupId),
  });
  await app.listen();
  process.stdout.write('READY\n');
  const stop = async () => { await app.close(); process.exit(0); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

async function call(bootstrap, groupId, pattern, payloads) {
  const client = new ClientKafka(kafkaOptions(bootstrap, `${groupId}-client`));
  client.subscribeToResponseOf(pattern);
  await client.connect();
  const results = await Promise.all(payloads.map(async (payload) => {
    try {
      return { ok: await lastValueFrom(client.send(pattern, payload).pipe(toArray())) };
    } catch (error) {
      return { error: error instanceof Error ? error.message : error };
    }
  }));
  process.stdout.write(`${JSON.stringify(results)}\n`);
  await client.close();
}

async function main() {
  const [command, ...args] = process.argv.slice(2);
  if (command === 'serve' && args.length === 3) {
    await serve(...args);
  } else if (command === 'call' && args.length === 4) {
    await call(args[0], args[1], args[2], JSON.parse(args[3]));
    process.exit(0);
  } else {
    process.stderr.write('usage: peer.js serve <bootstrap> <groupId> <prefix>\n'
      + '       peer.js call <bootstrap> <groupId> <pattern> <json array>\n');
    process.exit(2);
  }
}

main().catch((error) => { process.stderr.write(`${error.stack || error}\n`); process.exit(1); });
