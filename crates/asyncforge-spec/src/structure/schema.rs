//! Structure of Schema Objects (JSON Schema draft-07 plus AsyncAPI's additions).
