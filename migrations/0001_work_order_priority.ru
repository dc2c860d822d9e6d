# Work orders get a priority (ontology/demo.ttl): declare ex:priority and give every work
# order that has none the priority "normal". Applied once, through the log, by
# `ledgraph migrate` (docs/operations.md); never edit it after it was applied.
PREFIX ex:   <https://example.org/plant#>
PREFIX rdf:  <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX xsd:  <http://www.w3.org/2001/XMLSchema#>

INSERT DATA {
  ex:priority a rdf:Property ;
    rdfs:label "priority" ;
    rdfs:domain ex:WorkOrder ;
    rdfs:range xsd:string .
} ;

INSERT { ?order ex:priority "normal" }
WHERE {
  ?order a ex:WorkOrder .
  FILTER NOT EXISTS { ?order ex:priority ?any }
}
