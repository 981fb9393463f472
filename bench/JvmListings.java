/*
 * JvmListings: times Hive Metastore reads with the JVM Thrift client that Spark's Hive client runs.
 *
 *   java -cp <jars>:<classdir> JvmListings <port> <db> <table> <repeat> <getTableCalls> [<smallTable> [<filter>]]
 *
 *   port           the metastore's port on 127.0.0.1
 *   db, table      the database, and the partitioned table whose partitions are listed
 *   repeat         timed calls per operation; the median is printed
 *   getTableCalls  sequential get_table calls making one timed get_table measurement
 *   smallTable     the table read by get_table (default "small")
 *   filter         the filter of get_partitions_by_filter (default: dt = "d0007")
 *
 * The client is the generated org.apache.hadoop.hive.metastore.api.ThriftHiveMetastore.Client of the
 * hive-metastore jar, over an unframed TSocket with TBinaryProtocol, as HiveMetaStoreClient uses it.
 * One connection serves every call. Each operation first runs WARMUP untimed calls (get_table: one untimed
 * round of getTableCalls calls), so that the JIT has compiled the decoding, then `repeat` timed ones
 * (System.nanoTime around the whole call: request written, answer read and decoded).
 *
 * Output, one line per operation on stdout:  name <TAB> median seconds <TAB> check
 * where check is the number of partitions (or names) returned, for get_table the number of calls that
 * returned the table asked for. Errors: a stack trace on stderr and a non-zero exit status.
 */

import java.util.Arrays;
import java.util.Locale;

import org.apache.hadoop.hive.metastore.api.ThriftHiveMetastore;
import org.apache.thrift.protocol.TBinaryProtocol;
import org.apache.thrift.transport.TSocket;

public class JvmListings {
    static final int WARMUP = 5;
    static final String DEFAULT_SMALL_TABLE = "small";
    static final String DEFAULT_FILTER = "dt = \"d0007\"";
    static final int SOCKET_TIMEOUT_MS = 600_000;

    /** One call of an operation; returns its check value. */
    interface Call {
        int run() throws Exception;
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 5 || args.length > 7) {
            System.err.println("usage: JvmListings <port> <db> <table> <repeat> <getTableCalls> [<smallTable> [<filter>]]");
            System.exit(2);
        }
        int port = Integer.parseInt(args[0]);
        String db = args[1];
        String table = args[2];
        int repeat = Integer.parseInt(args[3]);
        int getTableCalls = Integer.parseInt(args[4]);
        String small = args.length > 5 ? args[5] : DEFAULT_SMALL_TABLE;
        String filter = args.length > 6 ? args[6] : DEFAULT_FILTER;
        if (repeat < 1 || getTableCalls < 1) {
            System.err.println("JvmListings: repeat and getTableCalls must be at least 1");
            System.exit(2);
        }

        TSocket socket = new TSocket("127.0.0.1", port, SOCKET_TIMEOUT_MS);
        socket.open();
        try {
            ThriftHiveMetastore.Client client = new ThriftHiveMetastore.Client(new TBinaryProtocol(socket));

            Call getTable = () -> {
                int ok = 0;
                for (int i = 0; i < getTableCalls; i++) {
                    if (small.equals(client.get_table(db, small).getTableName())) {
                        ok++;
                    }
                }
                return ok;
            };
            getTable.run();  // warm-up: a round is getTableCalls calls
            measure("get_table", getTable, 0, repeat);

            measure("get_partitions", () -> client.get_partitions(db, table, (short) -1).size(), WARMUP, repeat);
            measure("get_partitions_by_filter",
                    () -> client.get_partitions_by_filter(db, table, filter, (short) -1).size(), WARMUP, repeat);
            measure("get_partition_names",
                    () -> client.get_partition_names(db, table, (short) -1).size(), WARMUP, repeat);
        } finally {
            socket.close();
        }
    }

    /** Runs `warmup` untimed calls, then `repeat` timed ones; prints the median and the last check. */
    static void measure(String name, Call call, int warmup, int repeat) throws Exception {
        for (int i = 0; i < warmup; i++) {
            call.run();
        }
        long[] nanos = new long[repeat];
        int check = -1;
        for (int i = 0; i < repeat; i++) {
            long start = System.nanoTime();
            int got = call.run();
            nanos[i] = System.nanoTime() - start;
            if (i > 0 && got != check) {
                throw new IllegalStateException(name + ": answers differ between calls (" + check + " then " + got + ")");
            }
            check = got;
        }
        System.out.println(String.format(Locale.ROOT, "%s\t%.9f\t%d", name, median(nanos) / 1e9, check));
        System.out.flush();
    }

    static double median(long[] values) {
        long[] sorted = values.clone();
        Arrays.sort(sorted);
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0;
    }
}
