//! DigitalOcean API response examples for the endpoints the shared corpus has none for: the
//! response examples of the DigitalOcean OpenAPI specification (digitalocean/openapi,
//! `specification/resources/databases/responses/database_clusters.yml`,
//! `database_replicas.yml`, `kubernetes/responses/examples.yml` `kubernetes_clusters_all`)
//! written out as JSON, credentials shortened and node lists cut.

/// `GET /v2/databases` (the OpenAPI example: one PostgreSQL 10 cluster in a VPC).
pub const DATABASES: &str = r#"{"databases": [{
  "id": "9cc10173-e9ea-4176-9dbc-a4cee4c4ff30", "name": "backend", "engine": "pg", "version": "10",
  "connection": {"uri": "postgres://doadmin:x@backend-do-user-19081923-0.db.ondigitalocean.com:25060/defaultdb?sslmode=require",
                 "database": "", "host": "backend-do-user-19081923-0.db.ondigitalocean.com", "port": 25060,
                 "user": "doadmin", "password": "x", "ssl": true},
  "private_connection": {"uri": "postgres://doadmin:x@private-backend-do-user-19081923-0.db.ondigitalocean.com:25060/defaultdb?sslmode=require",
                 "database": "", "host": "private-backend-do-user-19081923-0.db.ondigitalocean.com", "port": 25060,
                 "user": "doadmin", "password": "x", "ssl": true},
  "users": [{"name": "doadmin", "role": "primary", "password": "x"}],
  "db_names": ["defaultdb"], "num_nodes": 1, "region": "nyc3", "status": "online",
  "created_at": "2019-01-11T18:37:36Z",
  "maintenance_window": {"day": "saturday", "hour": "08:45:12", "pending": true,
                         "description": ["Update TimescaleDB to version 1.2.1"]},
  "size": "db-s-2vcpu-4gb", "tags": ["production"],
  "private_network_uuid": "d455e75d-4858-4eec-8c95-da2f0a5f93a7"}]}"#;

/// `GET /v2/databases/{uuid}/replicas` (the OpenAPI example).
pub const REPLICAS: &str = r#"{"replicas": [{
  "name": "read-nyc3-01",
  "connection": {"uri": "", "database": "defaultdb", "host": "read-nyc3-01-do-user-19081923-0.db.ondigitalocean.com",
                 "port": 25060, "user": "doadmin", "password": "x", "ssl": true},
  "private_connection": {"uri": "postgres://doadmin:x@private-read-nyc3-01-do-user-19081923-0.db.ondigitalocean.com:25060/defaultdb?sslmode=require",
                 "database": "", "host": "private-read-nyc3-01-do-user-19081923-0.db.ondigitalocean.com", "port": 25060,
                 "user": "doadmin", "password": "x", "ssl": true},
  "region": "nyc3", "status": "active", "created_at": "0001-01-01T00:00:00Z"}]}"#;

/// `GET /v2/kubernetes/clusters` (the OpenAPI example, one node per pool kept).
pub const CLUSTERS: &str = r#"{"kubernetes_clusters": [{
  "id": "bd5f5959-5e1e-4205-a714-a914373942af", "name": "prod-cluster-01", "region": "nyc1",
  "version": "1.18.6-do.0", "cluster_subnet": "10.244.0.0/16", "service_subnet": "10.245.0.0/16",
  "vpc_uuid": "c33931f2-a26a-4e61-b85c-4e95a2ec431b", "ipv4": "68.183.121.157",
  "endpoint": "https://bd5f5959-5e1e-4205-a714-a914373942af.k8s.ondigitalocean.com",
  "tags": ["production", "web-team", "k8s", "k8s:bd5f5959-5e1e-4205-a714-a914373942af"],
  "node_pools": [
    {"id": "cdda885e-7663-40c8-bc74-3a036c66545d", "name": "frontend-pool", "size": "s-1vcpu-2gb", "count": 3,
     "tags": ["production", "web-team", "k8s", "k8s:bd5f5959-5e1e-4205-a714-a914373942af", "k8s:worker"],
     "labels": null, "taints": [], "auto_scale": false, "min_nodes": 0, "max_nodes": 0,
     "nodes": [{"id": "478247f8-b1bb-4f7a-8db9-2a5f8d4b8f8f", "name": "adoring-newton-3niq",
                "status": {"state": "provisioning"}, "droplet_id": "205545370",
                "created_at": "2018-11-15T16:00:11Z", "updated_at": "2018-11-15T16:00:11Z"}]},
    {"id": "f49f4379-7e7f-4af5-aeb6-0354bd840778", "name": "backend-pool", "size": "g-4vcpu-16gb", "count": 2,
     "tags": ["production", "web-team", "k8s", "k8s:bd5f5959-5e1e-4205-a714-a914373942af", "k8s:worker"],
     "labels": {"service": "backend", "priority": "high"}, "taints": [], "auto_scale": true,
     "min_nodes": 2, "max_nodes": 5,
     "nodes": [{"id": "3385619f-8ec3-42ba-bb23-8d21b8ba7518", "name": "affectionate-nightingale-3nif",
                "status": {"state": "provisioning"}, "droplet_id": "205545373",
                "created_at": "2018-11-15T16:00:11Z", "updated_at": "2018-11-15T16:00:11Z"}]}],
  "maintenance_policy": {"start_time": "00:00", "duration": "4h0m0s", "day": "any"},
  "auto_upgrade": false, "status": {"state": "provisioning", "message": "provisioning"},
  "created_at": "2018-11-15T16:00:11Z", "updated_at": "2018-11-15T16:00:11Z", "surge_upgrade": false}],
  "meta": {"total": 1}}"#;

pub const DB_ID: &str = "9cc10173-e9ea-4176-9dbc-a4cee4c4ff30";
